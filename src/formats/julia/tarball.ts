import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { LarderError, fail } from '../../core/errors.js';
import { byteBudget } from '../../core/byte-budget.js';
import { formatSize } from '../../core/units.js';
import { nestTree, readTarEntries, type FileTree } from './tree-hash.js';

type Dir = Map<string, Dir | { kind: 'file' | 'executable' | 'symlink'; data: Buffer }>;
const EPOCH = new Date(0);
/** Room for tar headers, long-name records and the final record padding on top of the file contents. */
const TAR_OVERHEAD_PER_ENTRY = 2048;
const TAR_RECORD = 10240;

/**
 * Canonical tar (Tar.jl `Tar.create` form) of a FileTree, gzip level 9: depth-first with names sorted
 * bytewise, directories (0755) before their contents, uid/gid/mtime 0, no `./`, no empty dirs, no `.git`.
 */
export async function canonicalTarball(tree: FileTree): Promise<Buffer> {
  const root: Dir = nestTree(tree, (file) => file);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collecting = (async () => { for await (const chunk of pack) chunks.push(chunk as Buffer); })();
  const base = { uid: 0, gid: 0, mtime: EPOCH, uname: '', gname: '' };
  const write = (dir: Dir, prefix: string): void => {
    const names = [...dir.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const node = dir.get(name)!;
      const path = prefix + name;
      if (node instanceof Map) {
        pack.entry({ ...base, name: `${path}/`, type: 'directory', mode: 0o755 });
        write(node, `${path}/`);
      } else if (node.kind === 'symlink') {
        const target = node.data.toString('utf8');
        if (!target || target.includes('\0') || !Buffer.from(target).equals(node.data)) {
          fail('ARCHIVE_INVALID', `the symlink ${path} has an empty or non-UTF-8 target, or one with a NUL byte`);
        }
        pack.entry({ ...base, name: path, type: 'symlink', mode: 0o755, linkname: target });
      } else {
        pack.entry({ ...base, name: path, type: 'file', mode: node.kind === 'executable' ? 0o755 : 0o644 }, node.data);
      }
    }
  };
  write(root, '');
  pack.finalize();
  await collecting;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

/**
 * Reads a package tree from an uploaded .tar or .tar.gz/.tgz (by magic bytes), rejecting absolute paths,
 * `..`, devices, hardlinks and nested `.git` (gitlinks); empty directories and a top-level `.git` dropped.
 */
export async function treeFromTarball(archive: Buffer, limits: { maxUnpackedSize: number; maxEntries: number }): Promise<FileTree> {
  const gzipped = archive[0] === 0x1f && archive[1] === 0x8b;
  if (!gzipped && archive.subarray(257, 262).toString('latin1') !== 'ustar') {
    const zip = archive.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'));
    fail('ARCHIVE_INVALID', zip
      ? 'zip archives are not accepted; upload the package as a .tar.gz'
      : 'the upload is neither a gzip-compressed tar (it must start with bytes 1f 8b) nor a tar archive; upload a .tar.gz');
  }
  const tooLarge = () => new LarderError('ARCHIVE_TOO_LARGE', `the archive unpacks to more than ${formatSize(limits.maxUnpackedSize)}, the limit of this registry; upload a smaller package`);
  const maxTar = limits.maxUnpackedSize + TAR_OVERHEAD_PER_ENTRY * limits.maxEntries + TAR_RECORD;
  const stages = gzipped ? [createGunzip(), byteBudget(maxTar, tooLarge)] : [];
  const tree: FileTree = new Map();
  const dirs = new Set<string>();
  let entries = 0;
  let bytes = 0;
  await readTarEntries(Readable.from([archive]), async ({ header: h, parts, body }) => {
    if (++entries > limits.maxEntries) {
      fail('ARCHIVE_TOO_LARGE', `the archive has more than ${limits.maxEntries} entries, the limit of this registry; upload a smaller package`);
    }
    const shown = JSON.stringify(h.name);
    if (parts.length === 0) return; // the root directory itself
    const git = parts.indexOf('.git');
    if (git === 0) return;
    if (git > 0) fail('ARCHIVE_INVALID', `the archive contains ${shown}, a nested git repository or submodule (a gitlink, which no tarball can reproduce); vendor its files instead`);
    const path = parts.join('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (tree.has(prefix)) fail('ARCHIVE_INVALID', `the archive has both a file ${prefix} and the entry ${shown} under it; remove one of them`);
      dirs.add(prefix);
    }
    if (h.type === 'directory') {
      if (tree.has(path)) fail('ARCHIVE_INVALID', `the archive has both a file and a directory ${path}; remove one of them`);
      dirs.add(path);
      return;
    }
    if (dirs.has(path)) fail('ARCHIVE_INVALID', `the archive has both a directory and a file ${path}; remove one of them`);
    if (tree.has(path)) fail('ARCHIVE_INVALID', `the archive contains ${shown} twice; remove the duplicate`);
    if (h.type === 'symlink') {
      tree.set(path, { kind: 'symlink', data: Buffer.from(h.linkname ?? '') });
    } else if (h.type === 'file' || h.type === 'contiguous-file') {
      if ((bytes += h.size) > limits.maxUnpackedSize) throw tooLarge();
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      tree.set(path, { kind: h.mode & 0o100 ? 'executable' : 'file', data: Buffer.concat(chunks) });
    } else if (h.type === 'link') {
      fail('ARCHIVE_INVALID', `the archive contains a hardlink ${shown} -> ${JSON.stringify(h.linkname)}; replace it with a copy of the file`);
    } else {
      fail('ARCHIVE_INVALID', `the archive entry ${shown} is a ${h.type ?? 'entry of unknown type'}; only files, directories and symlinks are allowed`);
    }
  }, stages);
  return tree;
}
