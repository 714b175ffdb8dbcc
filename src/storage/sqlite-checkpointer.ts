/**
 * SQLite's WAL checkpoints during a long series of write transactions (an import), run on a thread of their own.
 * Every ~1,000 pages a commit copies the WAL into the database file before it returns: for `larder import bazel` of
 * the BCR that is ~25 copies of 4 MB on the writing thread (a third of its commit time). Here the writing connection
 * stops checkpointing and a second connection on a worker thread checkpoints (PASSIVE: never in a writer's way) every
 * few milliseconds, on the other core. Nothing about durability changes: a checkpoint only copies committed pages.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import type { Db, DatabaseTarget } from './db.js';

/** How often the worker checkpoints: about once per import transaction. */
const INTERVAL_MS = 50;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');
const run = () => {
  try {
    checkpoint.get();
  } catch {
    // Busy or failed: the writer's own checkpoints (back on when this stops) or the next try catch up.
  }
};
const timer = setInterval(run, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  run();
  db.close();
  parentPort.postMessage('stopped');
});`;

/**
 * Runs `fn` (write transactions on `db`) with the WAL checkpoints on a worker thread; the writing connection's own
 * automatic checkpoints are back when it returns. Anything but a SQLite file runs `fn` as it is.
 */
export async function checkpointingApart<T>(db: Db, target: DatabaseTarget, fn: () => Promise<T>): Promise<T> {
  if (target.kind !== 'sqlite' || target.path === ':memory:') return fn();
  const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
  const pages = rows[0]?.wal_autocheckpoint ?? 1000;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { file: target.path, sqlite: createRequire(import.meta.url).resolve('better-sqlite3'), intervalMs: INTERVAL_MS },
  });
  // A worker that cannot start or fails leaves the checkpoints to the writer again.
  let running = true;
  const stopped = new Promise<void>((resolve) => {
    worker.once('message', () => resolve());
    worker.once('exit', () => resolve());
    worker.once('error', () => {
      running = false;
      void sql
        .raw(`pragma wal_autocheckpoint = ${Number(pages)}`)
        .execute(db)
        .catch(() => {});
      resolve();
    });
  });
  worker.unref();
  await sql`pragma wal_autocheckpoint = 0`.execute(db);
  try {
    return await fn();
  } finally {
    if (running) worker.postMessage('stop');
    await stopped;
    await worker.terminate();
    await sql.raw(`pragma wal_autocheckpoint = ${Number(pages)}`).execute(db);
  }
}
