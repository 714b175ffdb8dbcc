import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LarderError } from '../core/errors.js';
import { formatSize } from '../core/units.js';
import { blobStoreUnavailable, bounded, CHECK_TIMEOUT_MS, fsProblem, type BlobOperation } from './blob-errors.js';
import { SHA256_HEX, type BlobHandle, type BlobStore, type StagedBlob } from './blobs.js';
import { StagingDir } from './staging.js';

/**
 * How messages name the store. Not its absolute path: clients see these messages, and the path is the operator's
 * business (the server log has the full error).
 */
const FS_STORE = 'the blob store (the blobs directory in the data directory)';

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

  /** BLOB_STORE_UNAVAILABLE for a filesystem error met during `op`. */
  private unavailable(err: unknown, op: BlobOperation): LarderError {
    return blobStoreUnavailable(FS_STORE, fsProblem(err), op, err);
  }

  private pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return path.join(this.objDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async stage(source: Readable | Uint8Array, opts: { maxSize?: number } = {}): Promise<StagedBlob> {
    let dir: string;
    try {
      dir = await this.staging.dir();
    } catch (err) {
      if (!(source instanceof Uint8Array)) source.destroy();
      throw this.unavailable(err, 'write');
    }
    const { tmp, sha256, size } = await stageToFile(dir, source, opts.maxSize, (err) => this.unavailable(err, 'write'));
    // The object's directory is made now, outside any transaction: creating a directory costs a journal write (~1 ms
    // here), which `commit` would otherwise pay on the event loop while the database is held. Best effort: a store
    // that cannot make it fails `commit`, which tries again and reports it, as before.
    await fsp.mkdir(path.dirname(this.pathOf(sha256)), { recursive: true }).catch(() => {});
    return this.staged(tmp, sha256, size);
  }

  private staged(tmp: string, sha256: string, size: number): StagedBlob {
    let done = false;
    const finalPath = this.pathOf(sha256);
    return {
      sha256,
      size,
      // Synchronous on purpose: it runs inside the write transaction (right before COMMIT), and an asynchronous call
      // would hold the database until the thread pool, busy with other uploads' fsyncs, got round to a rename of
      // microseconds. The file's bytes were fsynced when it was staged.
      commit: async () => {
        if (done) return;
        try {
          // Same digest means same bytes: replacing an existing object changes nothing but its time (which only gives
          // `larder gc --grace` more reason to keep it), and costs one system call where a check first costs two.
          renameCreatingDir(tmp, finalPath);
        } catch (err) {
          throw this.unavailable(err, 'write');
        }
        done = true;
      },
      // Never throws: it runs while another error is on its way to the client, and a file it cannot remove (the
      // store is failing) is reaped with this process's staging directory.
      discard: async () => {
        if (!done) await fsp.rm(tmp, { force: true }).catch(() => {});
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

  /**
   * The blob's size, or null when it is not stored. A missing file counts as "not stored" only while the store's
   * own directory is there: an unmounted or removed store is an outage, not a store that lost everything.
   */
  private async sizeOf(sha256: string, op: BlobOperation): Promise<number | null> {
    try {
      return (await fsp.stat(this.pathOf(sha256))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const root = await fsp.stat(this.objDir).catch((e: unknown) => e as Error);
        if (!(root instanceof Error) && root.isDirectory()) return null;
        throw this.unavailable(root instanceof Error ? root : Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }), op);
      }
      throw this.unavailable(err, op);
    }
  }

  async open(sha256: string): Promise<BlobHandle | null> {
    const file = this.pathOf(sha256);
    const size = await this.sizeOf(sha256, 'read');
    if (size === null) return null;
    return {
      size,
      stream: (range) => fs.createReadStream(file, range ? { start: range.start, end: range.end } : {}),
      copyTo: (dest) => copyFile(file, size, dest),
    };
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.sizeOf(sha256, 'read')) !== null;
  }

  async delete(sha256: string): Promise<void> {
    try {
      await fsp.rm(this.pathOf(sha256), { force: true });
    } catch (err) {
      throw this.unavailable(err, 'remove');
    }
  }

  /** The object directory is a directory, and a file can be created (and removed) in this process's staging directory. */
  async check(): Promise<void> {
    const probe = async () => {
      try {
        const st = await fsp.stat(this.objDir);
        if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
        const file = path.join(await this.staging.dir(), `check-${randomBytes(4).toString('hex')}`);
        await fsp.writeFile(file, '');
        await fsp.rm(file, { force: true });
      } catch (err) {
        throw this.unavailable(err, 'check');
      }
    };
    await bounded(probe(), CHECK_TIMEOUT_MS, () => this.unavailable(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }), 'check'));
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

/** Renames `from` to `to`, creating `to`'s directory when it is the first object under its prefix. */
function renameCreatingDir(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync(from)) throw err;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(from, to);
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

/** A directory's names; none when it does not exist (yet), BLOB_STORE_UNAVAILABLE when it cannot be read. */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw blobStoreUnavailable(FS_STORE, fsProblem(err), 'read', err);
  }
}

const COPY_CHUNK = 64 * 1024;

/**
 * Copies the blob's `size` bytes (content-addressed: it never changes) to `dest`. The buffer is no larger than the blob,
 * and the copy stops at `size` instead of reading once more to find the end: a small tarball is one read and one write.
 */
async function copyFile(file: string, size: number, dest: Writable): Promise<void> {
  const handle = await fsp.open(file, 'r');
  const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(COPY_CHUNK, size)));
  try {
    for (let position = 0; position < size;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
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
 * `maxSize` bytes; the file is fsynced, so an acknowledged blob survives a power cut. A failure of the
 * file itself (ENOSPC, EIO, …) is passed through `writeFailed`; a failure of the source stays what it is.
 */
export async function stageToFile(
  tmpDir: string,
  source: Readable | Uint8Array,
  maxSize = Number.POSITIVE_INFINITY,
  writeFailed: (err: unknown) => Error = (err) => err as Error,
): Promise<{ tmp: string; sha256: string; size: number }> {
  // Staging directories are per process: a counter under this process's random tag names files uniquely.
  const tmp = path.join(tmpDir, `${Date.now()}-${STAGE_TAG}-${++staged}`);
  if (source instanceof Uint8Array) return stageBytes(tmp, source, maxSize, writeFailed);
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
  const file = fs.createWriteStream(tmp, { mode: 0o644, flush: true });
  // Whichever stream errs first is where the failure began (pipeline then destroys the others with it); the
  // file's own failures are system errors (open, write, fsync, close).
  let first: 'source' | 'file' | null = null;
  source.once('error', () => (first ??= 'source'));
  meter.once('error', () => (first ??= 'source'));
  file.once('error', (err: NodeJS.ErrnoException) => (first ??= err.syscall ? 'file' : 'source'));
  try {
    await pipeline(source, meter, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw first === 'file' ? writeFailed(err) : err;
  }
  return { tmp, sha256: hash.digest('hex'), size };
}

const STAGE_TAG = randomBytes(4).toString('hex');
let staged = 0;

/**
 * `stageToFile` for bytes already in memory: hashed in one call, then written and fsynced with no stream stages in
 * between (`writeSynced`).
 */
async function stageBytes(
  tmp: string,
  bytes: Uint8Array,
  maxSize: number,
  writeFailed: (err: unknown) => Error,
): Promise<{ tmp: string; sha256: string; size: number }> {
  if (bytes.length > maxSize) throw new LarderError('BODY_TOO_LARGE', `upload exceeds the ${formatSize(maxSize)} limit`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  try {
    await writeSynced(tmp, bytes);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw writeFailed(err);
  }
  return { tmp, sha256, size: bytes.length };
}

/** Bytes up to this size are written with a synchronous call (into the page cache: microseconds). */
const SYNC_WRITE_MAX = 256 * 1024;

/**
 * Creates `file` with `bytes`, fsynced before it resolves; the descriptor is closed whatever happens. The open (which
 * allocates an inode: the costly part in the kernel) and the fsync go to the thread pool; a small file's write and the
 * close are synchronous: two round trips of the event loop instead of four (each costs the loop more than the system
 * call of a small write).
 */
async function writeSynced(file: string, bytes: Uint8Array): Promise<void> {
  if (bytes.length > SYNC_WRITE_MAX) return writeSyncedAsync(file, bytes);
  const fd = await new Promise<number>((resolve, reject) => fs.open(file, 'wx', 0o644, (err, fd) => (err ? reject(err) : resolve(fd))));
  let failure: unknown = null;
  try {
    for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  } catch (err) {
    failure = err;
  }
  try {
    fs.closeSync(fd);
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw failure;
}

/** `writeSynced` for larger files: open, write, fsync and close on the thread pool. */
function writeSyncedAsync(file: string, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'wx', 0o644, (openErr, fd) => {
      if (openErr) return reject(openErr);
      const finish = (err: unknown) => fs.close(fd, (closeErr) => (err || closeErr ? reject(err ?? closeErr) : resolve()));
      const write = (offset: number) => {
        if (offset === bytes.length) return fs.fsync(fd, (syncErr) => finish(syncErr));
        fs.write(fd, bytes, offset, bytes.length - offset, null, (writeErr, written) =>
          writeErr ? finish(writeErr) : write(offset + written),
        );
      };
      write(0);
    });
  });
}
