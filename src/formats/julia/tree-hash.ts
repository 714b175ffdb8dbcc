import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header } from 'tar-stream';
import { LarderError, fail } from '../../core/errors.js';
import { TreeSpooler } from './spool.js';

/**
 * A file of a tree: its bytes in memory (link target bytes for symlinks), or, for large files, a
 * temporary file (spool.ts) with its size and git blob hash, so no tree needs its size in memory.
 */
export type TreeFile =
  { kind: 'file' | 'executable' | 'symlink'; data: Buffer } | { kind: 'file' | 'executable'; spooled: string; size: number; blob: Buffer };

/** A file tree: relative POSIX paths of files and symlinks (directories are implied). */
export type FileTree = Map<string, TreeFile>;

/** The git tree hash of an empty directory. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

type Leaf = { mode: '100644' | '100755' | '120000'; hash: Buffer };
type Dir = Map<string, Node>;
type Node = Leaf | Dir;
const MODES = { file: '100644', executable: '100755', symlink: '120000' } as const;

function gitObject(kind: 'blob' | 'tree', body: Buffer): Buffer {
  return createHash('sha1').update(`${kind} ${body.length}\0`).update(body).digest();
}

/** Git blob SHA-1 (hex) of `data`. */
export function blobHash(data: Buffer): string {
  return gitObject('blob', data).toString('hex');
}

/** Hashes a directory node; with `skipEmpty`, directories without files hash to null (left out). */
function hashDir(dir: Dir, skipEmpty: boolean): Buffer | null {
  const entries: Array<{ key: Buffer; line: Buffer }> = [];
  for (const [name, node] of dir) {
    const isDir = node instanceof Map;
    const hash = isDir ? hashDir(node, skipEmpty) : node.hash;
    if (!hash) continue;
    const mode = isDir ? '40000' : node.mode;
    entries.push({
      key: Buffer.from(isDir ? `${name}/` : name),
      line: Buffer.concat([Buffer.from(`${mode} ${name}\0`), hash]),
    });
  }
  if (skipEmpty && entries.length === 0) return null;
  entries.sort((a, b) => Buffer.compare(a.key, b.key));
  return gitObject('tree', Buffer.concat(entries.map((e) => e.line)));
}

function rootHash(root: Dir, skipEmpty: boolean): string {
  return hashDir(root, skipEmpty)?.toString('hex') ?? EMPTY_TREE;
}

/** Splits a FileTree path into components; rejects empty, `.`, `..` components, absolute paths and NUL. */
export function pathParts(path: string): string[] {
  const parts = path.split('/');
  if (path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    fail(
      'ARCHIVE_INVALID',
      `the path ${JSON.stringify(path)} is not a clean relative path (no leading "/", no empty, "." or ".." components, no NUL)`,
    );
  }
  return parts;
}

/** A nested map of a tree's directories (`.git` left out), with `leaf(file)` at each file. */
export type Nested<L> = Map<string, Nested<L> | L>;

/** Nests a FileTree's paths into directories; a path that is both a file and a directory is refused. */
export function nestTree<L>(tree: FileTree, leaf: (file: TreeFile) => L): Nested<L> {
  const root: Nested<L> = new Map();
  for (const [path, file] of tree) {
    const parts = pathParts(path);
    if (parts.includes('.git')) continue;
    const name = parts.pop()!;
    let dir = root;
    for (const part of parts) {
      const next = dir.get(part) ?? new Map();
      if (!(next instanceof Map))
        fail('ARCHIVE_INVALID', `the tree has both a file ${parts.join('/')} and files under it; remove one of them`);
      dir.set(part, next);
      dir = next;
    }
    if (dir.get(name) instanceof Map) fail('ARCHIVE_INVALID', `the tree has both a file ${path} and files under it; remove one of them`);
    dir.set(name, leaf(file));
  }
  return root;
}

/** Git tree SHA-1 of the tree (GitTools semantics: directories without files skipped, entries named .git skipped). */
export function treeHash(tree: FileTree): string {
  const root: Dir = nestTree<Leaf>(tree, (file) => ({
    mode: MODES[file.kind],
    hash: 'data' in file ? gitObject('blob', file.data) : file.blob,
  }));
  return rootHash(root, true);
}

/**
 * Reads a directory from disk into a FileTree (lstat; skips .git; exec bit = owner x). Symlinks below
 * `dir` are recorded as links (their text), never followed, so nothing read resolves outside `dir`.
 * Large files are copied to a spool: call `disposeTree` when done with it.
 */
export async function readDirTree(dir: string): Promise<FileTree> {
  const spool = new TreeSpooler();
  async function walk(abs: string, rel: string): Promise<void> {
    for (const name of await readdir(abs)) {
      if (name === '.git') continue;
      const path = join(abs, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = await lstat(path);
      if (st.isDirectory()) await walk(path, key);
      else if (st.isSymbolicLink()) spool.addSymlink(key, await readlink(path, { encoding: 'buffer' }));
      else if (st.isFile()) await spool.addFile(key, st.mode & 0o100 ? 'executable' : 'file', st.size, createReadStream(path));
      else fail('ARCHIVE_INVALID', `${path} is neither a file, a directory nor a symlink; remove it`);
    }
  }
  try {
    await walk(dir, '');
  } catch (err) {
    await spool.discard();
    throw err;
  }
  return spool.tree;
}

/** One tar entry, long names applied and its path checked (Tar.jl `check_header` rules). */
export interface TarEntry {
  header: Header;
  /** Path components without empty and `.` parts; empty for the root directory. */
  parts: string[];
  body: AsyncIterable<Buffer>;
}

/**
 * Reads a tar stream entry by entry (after the optional `stages`, e.g. a gunzip), rejecting absolute
 * paths, `..`, NUL, and paths through an earlier symlink. Errors of the tar parser become ARCHIVE_INVALID.
 */
export async function readTarEntries(
  input: NodeJS.ReadableStream | Readable,
  visit: (entry: TarEntry) => Promise<void> | void,
  stages: Transform[] = [],
): Promise<void> {
  const extractor = tar.extract();
  const piping = pipeline([input as Readable, ...stages, extractor]);
  const symlinks = new Set<string>();
  const reading = (async () => {
    for await (const entry of extractor) {
      const header = entry.header;
      const parts = checkTarPath(header, symlinks);
      if (header.type === 'symlink') symlinks.add(parts.join('/'));
      await visit({ header, parts, body: entry as AsyncIterable<Buffer> });
      for await (const _ of entry); // drain what the visitor left
    }
  })();
  const [piped, read] = await Promise.allSettled([piping, reading]);
  if (piped.status === 'fulfilled' && read.status === 'fulfilled') return;
  if (read.status === 'rejected') extractor.destroy();
  const errors = [read, piped].flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  const own = errors.find((e) => e instanceof LarderError);
  if (own) throw own;
  fail('ARCHIVE_INVALID', `the archive is not a valid tar stream (${errors[0]?.message}); it may be truncated or of another type`);
}

function checkTarPath(h: Header, symlinks: Set<string>): string[] {
  const shown = JSON.stringify(h.name);
  const bad = (why: string): never => fail('ARCHIVE_INVALID', `the tar entry ${shown} ${why}; rebuild the archive without it`);
  const link = h.linkname ?? '';
  if (h.name === '') bad('has an empty path');
  if (h.name.includes('\0') || link.includes('\0')) bad('contains a NUL byte');
  if (h.name.startsWith('/')) bad('has an absolute path');
  if (/(^|\/)\.\.(\/|$)/.test(h.name)) bad('has a ".." path component');
  // tar-stream ignores a directory's declared size and never ends its body (a hang); Tar.jl refuses it too.
  if (h.type === 'directory' && h.size > 0) bad('is a directory that claims to have content');
  if (h.type !== 'directory' && (h.name.endsWith('/') || h.name === '.' || h.name.endsWith('/.')))
    bad('is not a directory but its path ends in "/" or "."');
  if ((h.type === 'symlink' || h.type === 'link') && link === '') bad(`is a ${h.type} with an empty target`);
  if (h.type === 'link' && (link.startsWith('/') || /(^|\/)\.\.(\/|$)/.test(link))) bad('is a hardlink pointing outside the archive');
  const parts = h.name.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 1; i < parts.length; i++) {
    if (symlinks.has(parts.slice(0, i).join('/'))) bad(`lies under the symlink ${parts.slice(0, i).join('/')}`);
  }
  return parts;
}

/**
 * Tar.tree_hash over an (uncompressed) tar stream with empty directories KEPT (skip_empty=false), as Pkg
 * verifies registry tarballs; also returns the skip-empty variant. Hardlinks reuse the target's blob.
 * `skipGit` leaves out entries named `.git` at any level, as GitTools does for an extracted tree.
 */
export async function tarTreeHashes(
  input: NodeJS.ReadableStream | Readable,
  opts: { skipGit?: boolean; stages?: Transform[] } = {},
): Promise<{ keepEmpty: string; skipEmpty: string }> {
  const root: Dir = new Map();
  await readTarEntries(
    input,
    async ({ header: h, parts, body }) => {
      if (parts.length === 0) return; // the root directory itself
      if (opts.skipGit && parts.includes('.git')) return;
      const name = parts.pop()!;
      let dir = root;
      for (const part of parts) {
        let next = dir.get(part);
        if (!(next instanceof Map)) dir.set(part, (next = new Map()));
        dir = next;
      }
      // As Tar.jl: a later entry for the same path replaces the earlier one.
      if (h.type === 'directory') {
        dir.set(name, new Map());
      } else if (h.type === 'symlink') {
        dir.set(name, { mode: '120000', hash: gitObject('blob', Buffer.from(h.linkname ?? '')) });
      } else if (h.type === 'file') {
        const sha = createHash('sha1').update(`blob ${h.size}\0`);
        for await (const chunk of body) sha.update(chunk);
        dir.set(name, { mode: h.mode & 0o100 ? '100755' : '100644', hash: sha.digest() });
      } else if (h.type === 'link') {
        let target: Node | undefined = root;
        for (const part of (h.linkname ?? '').split('/').filter((p) => p !== '' && p !== '.')) {
          target = target instanceof Map ? target.get(part) : undefined;
        }
        if (!target || target instanceof Map) {
          fail(
            'ARCHIVE_INVALID',
            `the hardlink ${JSON.stringify(h.name)} points to ${JSON.stringify(h.linkname)}, which is not an earlier file in the archive`,
          );
        }
        dir.set(name, { mode: h.mode & 0o100 ? '100755' : '100644', hash: target.hash });
      } else {
        fail(
          'ARCHIVE_INVALID',
          `the tar entry ${JSON.stringify(h.name)} is a ${h.type ?? 'entry of unknown type'}; only files, directories, symlinks and hardlinks can be hashed`,
        );
      }
    },
    opts.stages,
  );
  return { keepEmpty: rootHash(root, false), skipEmpty: rootHash(root, true) };
}
