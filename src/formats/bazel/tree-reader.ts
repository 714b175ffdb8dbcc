/**
 * Reads the files of a registry tree for `larder import bazel` on a worker thread: opening, stat-ing, reading and
 * hashing ~45k files is as much work as writing them to the database, so the two run side by side on two cores
 * (issue 14: the whole BCR in < 4 s). The worker reads a batch at a time into one buffer and hands it over without a
 * copy; the import asks for the next batch before it writes the current one.
 */
import type fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** One file of the tree as read: its bytes, its strong etag (`strongEtag(body)`), and its `statKey`. */
export interface TreeFile {
  rel: string;
  body: Buffer;
  etag: string;
  /** `statKey` of the file, taken on the open descriptor before its bytes were read. */
  stat: string;
}

/**
 * What says a file is the one read before, as git's index does: size, modification and change times, inode, device.
 * Writing a file changes its ctime (which no tool sets back), and a fresh checkout makes new inodes. Self-contained:
 * the worker runs its source.
 */
export function statKey(st: fs.BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`;
}

/**
 * The entries below `dir` (relative to `root`, which ends in `/`), depth first and each directory's sorted by name (code
 * units), as pairs in `out`: the relative path and `f` (file), `l` (symbolic link) or `o` (anything else); directories are
 * entered, not listed. Self-contained: the reader thread runs its source too.
 */
export function listTree(fs: Pick<typeof import('node:fs'), 'readdirSync'>, root: string, dir: string, out: string[]): void {
  const entries = fs.readdirSync(root + dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) listTree(fs, root, rel, out);
    else out.push(rel, e.isSymbolicLink() ? 'l' : e.isFile() ? 'f' : 'o');
  }
}

/** One batch as read. `release` hands its bytes back to the reader for a later batch: no body may be used after it. */
export interface TreeBatch {
  files: TreeFile[];
  release(): void;
}

/**
 * A batch as the worker sends it: [start, end, etag, stat] per file asked for, in order, the bytes in `buffer`; the
 * `listTree` output of each directory asked for; or what went wrong.
 */
type Reply =
  | { id: number; files: Array<string | number>; buffer: ArrayBuffer }
  | { id: number; lists: string[][] }
  | { id: number; error: { message: string; code?: string; errno?: number; syscall?: string; path?: string } };

/** Buffers the worker keeps for reuse: the batches in flight (read ahead, being written). */
const POOL = 4;

// Each file's stat is taken on the open descriptor before its bytes are read (a file written meanwhile is read again
// by the next import); the bytes go into one buffer per batch, hashed where they lie. The buffers come back once their
// batch is written and are filled again: fresh memory for ~75 MB would cost a page fault per 4 KiB (and zero-filling
// it, with new Uint8Array) — more than the reads themselves. Synchronous calls: the thread has nothing else to do, and a
// just-cloned tree is in the page cache.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { hash } = require('node:crypto');
const root = workerData.root.endsWith('/') ? workerData.root : workerData.root + '/';
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const statKey = ${statKey.toString()};
const listTree = ${listTree.toString()};
const pool = [];
const allocate = (size) => new Uint8Array(Buffer.allocUnsafeSlow(size).buffer);
parentPort.on('message', ({ id, rels, dirs, free }) => {
  if (free) {
    if (pool.length < ${POOL}) pool.push(new Uint8Array(free));
    return;
  }
  try {
    if (dirs) {
      parentPort.postMessage({ id, lists: dirs.map((dir) => { const out = []; listTree(fs, root, dir, out); return out; }) });
      return;
    }
    let bytes = pool.pop() || allocate(2 << 20);
    let used = 0;
    const files = [];
    for (const rel of rels) {
      // A path the listing saw as a file may have been swapped since: no link is followed, no FIFO waited on.
      const fd = fs.openSync(root + rel, OPEN_FLAGS);
      try {
        const st = fs.fstatSync(fd, { bigint: true });
        if (!st.isFile()) throw Object.assign(new Error(rel + ' is no longer a regular file; import the tree again once it is'), { code: 'EINVAL', path: rel });
        const size = Number(st.size);
        if (used + size > bytes.length) {
          const grown = allocate(Math.max(bytes.length * 2, used + size));
          grown.set(bytes.subarray(0, used));
          bytes = grown;
        }
        let at = 0;
        while (at < size) {
          const n = fs.readSync(fd, bytes, used + at, size - at, at);
          if (n === 0) break;
          at += n;
        }
        // crypto.hash: one call, no Hash object (a quarter of createHash's cost for files this small).
        const etag = '"' + hash('sha256', bytes.subarray(used, used + at), 'base64url') + '"';
        files.push(used, used + at, etag, statKey(st));
        used += at;
      } finally {
        fs.closeSync(fd);
      }
    }
    parentPort.postMessage({ id, files, buffer: bytes.buffer }, [bytes.buffer]);
  } catch (thrown) {
    const err = thrown || {};
    parentPort.postMessage({ id, error: { message: String(err.message), code: err.code, errno: err.errno, syscall: err.syscall, path: err.path } });
  }
});`;

/** The files of one tree, read on a worker thread (started by the first read) in the order asked; `close` when done. */
export class TreeReader {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private lost: Error | null = null;

  constructor(private readonly root: string) {}

  /** The files `rels` (relative to the root) with their bytes, etags and stats. */
  async read(rels: string[]): Promise<TreeBatch> {
    const reply = await this.ask({ rels });
    if (!('files' in reply)) throw new Error('the import reader answered a read with something else');
    const worker = this.worker!;
    const buffer = reply.buffer;
    let released = false;
    return {
      files: treeFiles(rels, reply.files, buffer),
      release: () => {
        if (released || this.lost) return;
        released = true;
        worker.postMessage({ free: buffer }, [buffer]);
      },
    };
  }

  /** `listTree` of each of `dirs` (relative to the root), listed on the reader's thread. */
  async list(dirs: string[]): Promise<string[][]> {
    const reply = await this.ask({ dirs });
    if (!('lists' in reply)) throw new Error('the import reader answered a listing with something else');
    return reply.lists;
  }

  private ask(message: { rels: string[] } | { dirs: string[] }): Promise<Reply> {
    if (this.lost) return Promise.reject(this.lost);
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...message });
    });
  }

  /** Stops the thread; reads still pending fail. */
  async close(): Promise<void> {
    this.lost ??= new Error('the import reader was closed');
    await this.worker?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { root: this.root } });
    worker.on('message', (reply: Reply) => {
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (!w) return;
      if ('error' in reply) w.reject(Object.assign(new Error(reply.error.message), reply.error));
      else w.resolve(reply);
    });
    const fail = (err: Error) => {
      this.lost ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('the import reader thread stopped')));
    return worker;
  }
}

/** Views of one batch's buffer, one per file (the batch is written and dropped, or released, as a whole). */
function treeFiles(rels: string[], flat: Array<string | number>, buffer: ArrayBuffer): TreeFile[] {
  return rels.map((rel, i) => {
    const start = flat[4 * i] as number;
    return {
      // The caller's string, not a copy from the worker: its hash is already computed for the maps it is a key of.
      rel,
      body: Buffer.from(buffer, start, (flat[4 * i + 1] as number) - start),
      etag: flat[4 * i + 2] as string,
      stat: flat[4 * i + 3] as string,
    };
  });
}
