import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { LarderError, fail } from '../../core/errors.js';
import { byteBudget } from '../../core/byte-budget.js';
import { formatSize } from '../../core/units.js';
import { TreeSpooler } from './spool.js';
import { nestTree, readTarEntries, type FileTree, type TreeFile } from './tree-hash.js';

type Dir = Map<string, Dir | TreeFile>;
const EPOCH = new Date(0);
/** Room for tar headers, long-name records and the final record padding on top of the file contents. */
const TAR_OVERHEAD_PER_ENTRY = 2048;
const TAR_RECORD = 10240;

/**
 * Canonical tar (Tar.jl `Tar.create` form) of a FileTree as a stream, uncompressed: depth-first with
 * names sorted bytewise, directories (0755) before their contents, uid/gid/mtime 0, no `./`, no empty
 * dirs, no `.git`. Spooled files are streamed from disk, so memory stays bounded for any tree.
 */
export function canonicalTar(tree: FileTree): Readable {
  const root: Dir = nestTree(tree, (file) => file);
  const pack = tar.pack();
  const base = { uid: 0, gid: 0, mtime: EPOCH, uname: '', gname: '' };
  const write = async (dir: Dir, prefix: string): Promise<void> => {
    const names = [...dir.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const node = dir.get(name)!;
      const path = prefix + name;
      if (node instanceof Map) {
        pack.entry({ ...base, name: `${path}/`, type: 'directory', mode: 0o755 });
        await write(node, `${path}/`);
      } else if (node.kind === 'symlink') {
        const data = 'data' in node ? node.data : Buffer.alloc(0);
        const target = data.toString('utf8');
        if (!target || target.includes('\0') || !Buffer.from(target).equals(data)) {
          fail('ARCHIVE_INVALID', `the symlink ${path} has an empty or non-UTF-8 target, or one with a NUL byte`);
        }
        pack.entry({ ...base, name: path, type: 'symlink', mode: 0o755, linkname: target });
      } else {
        const header = { ...base, name: path, type: 'file' as const, mode: node.kind === 'executable' ? 0o755 : 0o644 };
        if ('data' in node) {
          await new Promise<void>((resolve, reject) => pack.entry(header, node.data, (err) => (err ? reject(err) : resolve())));
        } else {
          // The entry's writable waits for the pack's reader: one spooled file flows through at a time.
          await new Promise<void>((resolve, reject) => {
            const entry = pack.entry({ ...header, size: node.size }, (err) => (err ? reject(err) : resolve()));
            pipeline(createReadStream(node.spooled), entry).catch(reject);
          });
        }
      }
    }
  };
  write(root, '').then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return Readable.from(pack as AsyncIterable<Buffer>);
}

/**
 * The canonical tarball of a FileTree, gzip level 9 (what Pkg downloads), as a stream; zlib runs off
 * the event loop. Byte-identical to gzipping the whole canonical tar at once.
 */
export function canonicalTarballStream(tree: FileTree): Readable {
  const gz = createGzip({ level: 9 });
  pipeline(canonicalTar(tree), gz).catch((err: Error) => gz.destroy(err));
  return gz;
}

/** The canonical tarball of a small tree in one Buffer (the CLI's upload, tests). */
export async function canonicalTarball(tree: FileTree): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of canonicalTarballStream(tree)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Reads a package tree from an uploaded .tar or .tar.gz/.tgz (by magic bytes), rejecting absolute paths,
 * `..`, devices, hardlinks and nested `.git` (gitlinks); empty directories and a top-level `.git` dropped.
 * Inflates off the event loop; large files are spooled to disk: call `disposeTree` when done with the tree.
 */
export async function treeFromTarball(archive: Buffer, limits: { maxUnpackedSize: number; maxEntries: number }): Promise<FileTree> {
  const gzipped = archive[0] === 0x1f && archive[1] === 0x8b;
  if (!gzipped && archive.subarray(257, 262).toString('latin1') !== 'ustar') {
    const zip = archive.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'));
    fail(
      'ARCHIVE_INVALID',
      zip
        ? 'zip archives are not accepted; upload the package as a .tar.gz'
        : 'the upload is neither a gzip-compressed tar (it must start with bytes 1f 8b) nor a tar archive; upload a .tar.gz',
    );
  }
  const tooLarge = () =>
    new LarderError(
      'ARCHIVE_TOO_LARGE',
      `the archive unpacks to more than ${formatSize(limits.maxUnpackedSize)}, the limit of this registry; upload a smaller package`,
    );
  const maxTar = limits.maxUnpackedSize + TAR_OVERHEAD_PER_ENTRY * limits.maxEntries + TAR_RECORD;
  const stages = gzipped ? [createGunzip(), byteBudget(maxTar, tooLarge)] : [];
  const spool = new TreeSpooler();
  const tree = spool.tree;
  const dirs = new Set<string>();
  let entries = 0;
  let bytes = 0;
  const reading = readTarEntries(
    Readable.from([archive]),
    async ({ header: h, parts, body }) => {
      if (++entries > limits.maxEntries) {
        fail(
          'ARCHIVE_TOO_LARGE',
          `the archive has more than ${limits.maxEntries} entries, the limit of this registry; upload a smaller package`,
        );
      }
      const shown = JSON.stringify(h.name);
      if (parts.length === 0) return; // the root directory itself
      const git = parts.indexOf('.git');
      if (git === 0) return;
      if (git > 0)
        fail(
          'ARCHIVE_INVALID',
          `the archive contains ${shown}, a nested git repository or submodule (a gitlink, which no tarball can reproduce); vendor its files instead`,
        );
      const path = parts.join('/');
      for (let i = 1; i < parts.length; i++) {
        const prefix = parts.slice(0, i).join('/');
        if (tree.has(prefix))
          fail('ARCHIVE_INVALID', `the archive has both a file ${prefix} and the entry ${shown} under it; remove one of them`);
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
        spool.addSymlink(path, Buffer.from(h.linkname ?? ''));
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        if ((bytes += h.size ?? 0) > limits.maxUnpackedSize) throw tooLarge();
        await spool.addFile(path, (h.mode ?? 0) & 0o100 ? 'executable' : 'file', h.size ?? 0, body);
      } else if (h.type === 'link') {
        fail(
          'ARCHIVE_INVALID',
          `the archive contains a hardlink ${shown} -> ${JSON.stringify(h.linkname)}; replace it with a copy of the file`,
        );
      } else {
        fail(
          'ARCHIVE_INVALID',
          `the archive entry ${shown} is a ${h.type ?? 'entry of unknown type'}; only files, directories and symlinks are allowed`,
        );
      }
    },
    stages,
  );
  try {
    await reading;
  } catch (err) {
    await spool.discard();
    throw err;
  }
  return tree;
}
