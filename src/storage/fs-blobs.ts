import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LarderError } from '../core/errors.js';
import { formatSize } from '../core/units.js';
import { SHA256_HEX, type BlobHandle, type BlobStore, type StagedBlob } from './blobs.js';
import { StagingDir } from './staging.js';

/** Blobs as files under `root/sha256/ab/cd/<digest>`, staged in this process's directory under `root/tmp`. */
export class FsBlobStore implements BlobStore {
  private readonly staging: StagingDir;
  private readonly objDir: string;

  constructor(readonly root: string) {
    const tmpDir = path.join(root, 'tmp');
    this.objDir = path.join(root, 'sha256');
    fs.mkdirSync(tmpDir, { recursive: true });
    fs.mkdirSync(this.objDir, { recursive: true });
    this.staging = new StagingDir(tmpDir);
  }

  reapStaging(): Promise<number> {
    return this.staging.reap();
  }

  close(): Promise<void> {
    return this.staging.close();
  }

  private pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return path.join(this.objDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async stage(source: Readable, opts: { maxSize?: number } = {}): Promise<StagedBlob> {
    const { tmp, sha256, size } = await stageToFile(await this.staging.dir(), source, opts.maxSize);
    return this.staged(tmp, sha256, size);
  }

  private staged(tmp: string, sha256: string, size: number): StagedBlob {
    let done = false;
    const finalPath = this.pathOf(sha256);
    return {
      sha256,
      size,
      commit: async () => {
        if (done) return;
        await fsp.mkdir(path.dirname(finalPath), { recursive: true });
        // Same digest means same bytes: an existing object is already correct.
        if (fs.existsSync(finalPath)) await fsp.rm(tmp, { force: true });
        else await fsp.rename(tmp, finalPath);
        done = true;
      },
      discard: async () => {
        if (!done) await fsp.rm(tmp, { force: true });
        done = true;
      },
    };
  }

  /** The file holding a blob (it may not exist): backup hard-links it instead of copying. */
  fileOf(sha256: string): string {
    return this.pathOf(sha256);
  }

  /**
   * Stores an existing file under its digest by hard link (a copy across filesystems), for
   * restore; the caller vouches for the digest (`larder verify` re-hashes afterwards).
   */
  async adopt(file: string, sha256: string): Promise<void> {
    const dest = this.pathOf(sha256);
    if (fs.existsSync(dest)) return;
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await linkOrCopy(file, dest);
  }

  async open(sha256: string): Promise<BlobHandle | null> {
    const file = this.pathOf(sha256);
    let size: number;
    try {
      size = (await fsp.stat(file)).size;
    } catch {
      return null;
    }
    return {
      size,
      stream: (range) => fs.createReadStream(file, range ? { start: range.start, end: range.end } : {}),
      copyTo: (dest) => copyFile(file, dest),
    };
  }

  async has(sha256: string): Promise<boolean> {
    return fs.existsSync(this.pathOf(sha256));
  }

  async delete(sha256: string): Promise<void> {
    await fsp.rm(this.pathOf(sha256), { force: true });
  }

  async *list(): AsyncIterable<{ sha256: string; modifiedAt: number }> {
    for (const a of await readdirOrEmpty(this.objDir)) {
      for (const b of await readdirOrEmpty(path.join(this.objDir, a))) {
        for (const name of await readdirOrEmpty(path.join(this.objDir, a, b))) {
          if (SHA256_HEX.test(name)) yield { sha256: name, modifiedAt: (await fsp.stat(path.join(this.objDir, a, b, name))).mtimeMs };
        }
      }
    }
  }
}

/** A hard link where the filesystem allows one (same device), else a copy. */
export async function linkOrCopy(from: string, to: string): Promise<'linked' | 'copied'> {
  try {
    await fsp.link(from, to);
    return 'linked';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
    await fsp.copyFile(from, to);
    return 'copied';
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch {
    return [];
  }
}

const COPY_CHUNK = 64 * 1024;

async function copyFile(file: string, dest: Writable): Promise<void> {
  const handle = await fsp.open(file, 'r');
  const buffer = Buffer.allocUnsafe(COPY_CHUNK);
  try {
    for (let position = 0; ;) {
      const { bytesRead } = await handle.read(buffer, 0, COPY_CHUNK, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      if (dest.destroyed) throw new Error('the client went away');
      await new Promise<void>((resolve, reject) => dest.write(buffer.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())));
    }
  } finally {
    await handle.close();
  }
}

/**
 * Streams `source` into a new file under `tmpDir`, hashing as it goes and refusing more than
 * `maxSize` bytes; the file is fsynced, so an acknowledged blob survives a power cut.
 */
export async function stageToFile(
  tmpDir: string,
  source: Readable,
  maxSize = Number.POSITIVE_INFINITY,
): Promise<{ tmp: string; sha256: string; size: number }> {
  const tmp = path.join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxSize) return cb(new LarderError('BODY_TOO_LARGE', `upload exceeds the ${formatSize(maxSize)} limit`));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, fs.createWriteStream(tmp, { mode: 0o644, flush: true }));
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  return { tmp, sha256: hash.digest('hex'), size };
}
