import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { fail } from '../../core/errors.js';
import { gateTar, printable, type GateOptions } from '../../core/archive/index.js';
import { TreeSpooler } from './spool.js';
import { juliaGateMessages, nestTree, type FileTree, type TreeFile } from './tree-hash.js';

type Dir = Map<string, Dir | TreeFile>;
const EPOCH = new Date(0);

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
 * Reads a package tree from an uploaded .tar or .tar.gz/.tgz (by magic bytes) through the archive gate:
 * no absolute paths, `..`, devices, hardlinks, duplicates, symlinks leaving the tree or nested `.git`
 * (gitlinks); empty directories and a top-level `.git` dropped.
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
  const spool = new TreeSpooler();
  const options: GateOptions = { limits, symlinks: 'inside', hardlinks: 'reject', duplicates: 'reject', messages: juliaGateMessages() };
  const reading = gateTar(Readable.from([archive]), { ...options, gzip: gzipped }, async (entry) => {
    const git = entry.parts.indexOf('.git');
    if (git === 0) return; // a top-level .git is dropped
    if (git > 0)
      fail(
        'ARCHIVE_INVALID',
        `the archive contains "${printable(entry.name)}", a nested git repository or submodule (a gitlink, which no tarball can reproduce); vendor its files instead`,
      );
    if (entry.type === 'symlink') spool.addSymlink(entry.path, Buffer.from(entry.linkname ?? ''));
    else if (entry.type === 'file') await spool.addFile(entry.path, entry.mode & 0o100 ? 'executable' : 'file', entry.size, entry.body);
  });
  try {
    await reading;
  } catch (err) {
    await spool.discard();
    throw err;
  }
  return spool.tree;
}
