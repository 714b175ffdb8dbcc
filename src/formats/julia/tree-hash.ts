import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fail } from '../../core/errors.js';
import { gateMessages, gateTar, type GateMessages, type GatedEntry } from '../../core/archive/index.js';
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

/** One tar entry, long names applied and its path checked by the archive gate. */
export interface TarEntry {
  header: { name: string; type: GatedEntry['type']; size: number; mode: number; linkname: string | null };
  /** Path components without empty and `.` parts; never empty (the root directory is not visited). */
  parts: string[];
  body: AsyncIterable<Buffer>;
}

/** Archive gate messages for Julia tarballs, in Tar.jl's words. */
export function juliaGateMessages(): GateMessages {
  return gateMessages('the archive', 'upload a smaller package', {
    badPath: (shown, why) => `the tar entry "${shown}" ${why}; rebuild the archive without it`,
    directoryWithContent: (shown) => `the tar entry "${shown}" is a directory that claims to have content; rebuild the archive without it`,
    link: (shown, target, type) =>
      `the archive contains a ${type === 'link' ? 'hardlink' : 'symlink'} "${shown}" -> "${target}"; replace it with a copy of the file`,
    badType: (shown, type) => `the archive entry "${shown}" is a ${type}; only files, directories and symlinks are allowed`,
    duplicate: (shown) => `the archive contains "${shown}" twice; remove the duplicate`,
    conflict: (file, shown) => `the archive has both a file ${file} and the entry "${shown}" at or under it; remove one of them`,
    notGzip: () => 'the upload is not a gzip-compressed tar (it must start with bytes 1f 8b); upload a .tar.gz',
    corrupt: (_stage, detail) => `the archive is not a valid tar stream (${detail}); it may be truncated or of another type`,
  });
}

/**
 * Reads a tar stream (gunzipped first with `gzip`) of a tree Larder stored or served, through the archive
 * gate as Tar.jl reads it: symlinks kept whatever they point to, hardlinks inside, later entries win, no limits.
 */
export async function readTarEntries(
  input: NodeJS.ReadableStream | Readable,
  visit: (entry: TarEntry) => Promise<void> | void,
  opts: { gzip?: boolean; maxUnpackedSize?: number } = {},
): Promise<void> {
  const limits = { maxEntries: Number.MAX_SAFE_INTEGER, maxUnpackedSize: opts.maxUnpackedSize ?? Number.MAX_SAFE_INTEGER };
  const options = { gzip: opts.gzip, limits, symlinks: 'any', hardlinks: 'inside', messages: juliaGateMessages() } as const;
  await gateTar(input, options, ({ name, type, size, mode, linkname, parts, body }) =>
    visit({ header: { name, type, size, mode, linkname: linkname ?? null }, parts, body }),
  );
}

/**
 * Tar.tree_hash over an (uncompressed) tar stream with empty directories KEPT (skip_empty=false), as Pkg
 * verifies registry tarballs; also returns the skip-empty variant. Hardlinks reuse the target's blob.
 * `skipGit` leaves out entries named `.git` at any level, as GitTools does for an extracted tree.
 */
export async function tarTreeHashes(
  input: NodeJS.ReadableStream | Readable,
  opts: { skipGit?: boolean; gzip?: boolean; maxUnpackedSize?: number } = {},
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
    { gzip: opts.gzip, maxUnpackedSize: opts.maxUnpackedSize },
  );
  return { keepEmpty: rootHash(root, false), skipEmpty: rootHash(root, true) };
}
