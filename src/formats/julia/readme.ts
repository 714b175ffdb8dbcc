/** The README of a registered package tree, kept for its package page (registry/readmes.ts). */
import { open } from 'node:fs/promises';
import type { FileTree, TreeFile } from './tree-hash.js';

/** The most bytes of a README read from a tree: past what putReadme keeps (512 Ki characters), a big file is never read whole. */
export const MAX_README_BYTES = 1 << 20;

/** Names a README goes by at a package root, preferred first (Markdown, then plain text). */
const PREFERRED = ['README.md', 'readme.md', 'Readme.md', 'README.markdown', 'README', 'README.txt'];

/** The README at the root of a package tree as text, or null when there is none (a symlink is not followed). */
export async function readmeOf(tree: FileTree): Promise<string | null> {
  const atRoot = [...tree.keys()].filter((p) => !p.includes('/'));
  const name = PREFERRED.find((n) => tree.has(n)) ?? atRoot.filter((n) => /^readme(\.(md|markdown|txt))?$/i.test(n)).sort()[0];
  const file = name === undefined ? undefined : tree.get(name);
  if (!file || file.kind === 'symlink') return null;
  return (await head(file, MAX_README_BYTES)).toString('utf8');
}

/** The first `max` bytes of a tree file (in memory, or read from its spool file without reading the rest). */
async function head(file: TreeFile, max: number): Promise<Buffer> {
  if ('data' in file) return file.data.subarray(0, max);
  const handle = await open(file.spooled, 'r');
  try {
    const buf = Buffer.alloc(Math.min(max, file.size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
