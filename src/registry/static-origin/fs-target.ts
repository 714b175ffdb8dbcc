/** A static origin in a local (or shared) directory that nginx serves. */
import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { checkedPath, type StaticTarget } from './target.js';

/** Temporary files are named so a listing can tell them apart, and so nginx's `location ~ /\.` refuses them. */
export const TEMP_MARK = '.larder-tmp-';

/** Files under one directory, each replaced by writing a temporary file beside it and renaming it over the old one. */
export class FsStaticTarget implements StaticTarget {
  constructor(readonly root: string) {}

  get label(): string {
    return this.root;
  }

  async put(relPath: string, body: Buffer): Promise<void> {
    const file = path.join(this.root, checkedPath(relPath));
    const dir = path.dirname(file);
    await fsp.mkdir(dir, { recursive: true });
    // Same directory, so the rename is atomic; the name is unique per write, so concurrent writers never share one.
    const temp = path.join(dir, `${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}-${path.basename(file)}`);
    try {
      await fsp.writeFile(temp, body, { mode: 0o644 });
      await fsp.rename(temp, file);
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
  }

  async delete(relPath: string): Promise<void> {
    await fsp.rm(path.join(this.root, checkedPath(relPath)), { force: true });
  }

  async *list(): AsyncIterable<{ path: string; md5: string }> {
    let entries: string[];
    try {
      entries = (await fsp.readdir(this.root, { recursive: true })) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const entry of entries.sort()) {
      const file = path.join(this.root, entry);
      let body: Buffer;
      try {
        body = await fsp.readFile(file);
      } catch (err) {
        // A directory, or a file a concurrent write renamed or deleted since the listing.
        if (['EISDIR', 'ENOENT'].includes((err as NodeJS.ErrnoException).code ?? '')) continue;
        throw err;
      }
      yield { path: entry.split(path.sep).join('/'), md5: createHash('md5').update(body).digest('hex') };
    }
  }

  async close(): Promise<void> {}
}
