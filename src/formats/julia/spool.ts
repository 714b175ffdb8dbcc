import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { fail } from '../../core/errors.js';
import type { FileTree, TreeFile } from './tree-hash.js';
import { processScratchDir } from '../../storage/staging.js';

/** Files up to this size stay in memory, while the tree's in-memory total stays under MAX_IN_MEMORY. */
const MAX_FILE_IN_MEMORY = 1 << 20;
const MAX_IN_MEMORY = 32 << 20;
/** The spool directory of each tree that has one, removed by `disposeTree`. */
const spoolDirs = new WeakMap<FileTree, string>();

/**
 * Builds a FileTree of any size with bounded memory: small files in memory, large ones streamed to a
 * temporary directory while their git blob hash is computed chunk by chunk (never one long hash).
 */
export class TreeSpooler {
  readonly tree: FileTree = new Map();
  private dir: string | null = null;
  private inMemory = 0;
  private files = 0;

  /** Adds a file of `size` bytes whose contents `body` yields (exactly `size` bytes). */
  async addFile(rel: string, kind: 'file' | 'executable', size: number, body: AsyncIterable<Buffer>): Promise<void> {
    if (size <= MAX_FILE_IN_MEMORY && this.inMemory + size <= MAX_IN_MEMORY) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      const data = Buffer.concat(chunks);
      this.inMemory += data.length;
      this.tree.set(rel, { kind, data });
      return;
    }
    this.dir ??= processScratchDir('tree');
    spoolDirs.set(this.tree, this.dir);
    const file = path.join(this.dir, String(++this.files));
    const sha = createHash('sha1').update(`blob ${size}\0`);
    const out = fs.createWriteStream(file, { mode: 0o600 });
    const closed = once(out, 'close');
    let written = 0;
    try {
      for await (const chunk of body) {
        sha.update(chunk);
        written += chunk.length;
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await closed;
    } catch (err) {
      out.destroy();
      throw err;
    }
    if (written !== size) fail('ARCHIVE_INVALID', `${rel} has ${written} bytes where ${size} were announced; the archive is damaged`);
    this.tree.set(rel, { kind, spooled: file, size, blob: sha.digest() });
  }

  /** Adds a symlink (kept as its target bytes, never followed). */
  addSymlink(rel: string, target: Buffer): void {
    this.inMemory += target.length;
    this.tree.set(rel, { kind: 'symlink', data: target });
  }

  /** Removes whatever was spooled (after a refusal). */
  async discard(): Promise<void> {
    await disposeTree(this.tree);
  }
}

/** Removes a tree's spooled files, if it has any; call it once the tree has been stored or refused. */
export async function disposeTree(tree: FileTree): Promise<void> {
  const dir = spoolDirs.get(tree);
  spoolDirs.delete(tree);
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** The bytes of a tree file (read back from the spool if it was spooled): for the small files registration reads. */
export async function treeFileData(file: TreeFile): Promise<Buffer> {
  return 'data' in file ? file.data : readFile(file.spooled);
}
