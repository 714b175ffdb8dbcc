/**
 * The files a history holds at its tip, read from its recorded changes: what a format serves as
 * documents when git is the only place they come from (a proxied git index, a group's union), and
 * what the next commit of a history is diffed against.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { LarderError } from '../../core/errors.js';
import type { Dialect } from '../../storage/db.js';
import type { Database } from '../../storage/schema.js';
import { inTransaction } from '../tx.js';
import { checkHistoryName, recordGitCommit, type GitFileMode, type GitHistoryRef } from './record.js';

/** A file at a history's tip, with its git blob id (what an upstream's `ls-tree` would name it). */
export interface HistoryFile {
  mode: GitFileMode;
  data: Uint8Array;
  blob: string;
}

/** The tip of a history: the last recorded row and every file it holds. */
export interface HistoryTip {
  /** The id of the last recorded commit row; 0 for a history with no commits. */
  head: number;
  /** The commit message of the last row ('' for none): formats keep small markers there. */
  message: string;
  files: ReadonlyMap<string, HistoryFile>;
}

/** The git blob id of some bytes. */
export function gitBlobId(data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** Tips per database (a process may open several: tests, `larder restore`), then per `repoId/history`. */
const tips = new WeakMap<Kysely<Database>, Map<string, HistoryTip>>();
const reading = new WeakMap<Kysely<Database>, Map<string, Promise<HistoryTip>>>();
/** Rows read at once while a tip is brought forward. */
const BATCH = 500;

function cacheOf<T>(maps: WeakMap<Kysely<Database>, Map<string, T>>, db: Kysely<Database>): Map<string, T> {
  let m = maps.get(db);
  if (!m) maps.set(db, (m = new Map()));
  return m;
}

/** The last recorded commit of a history (one indexed lookup), or null. */
export async function historyHead(db: Kysely<Database>, ref: GitHistoryRef): Promise<{ id: number; message: string } | null> {
  const row = await db
    .selectFrom('git_history')
    .select(['id', 'message'])
    .where('repo_id', '=', ref.repoId)
    .where('history', '=', ref.history)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { id: row.id, message: row.message } : null;
}

/**
 * The files at the tip of a history that records changes (not whole trees). Kept in memory per
 * process and database, and brought forward from the rows recorded since, so a read after the first
 * costs one indexed lookup. With `trx` (a transaction of `db`), it reads what that transaction has
 * recorded so far (starting from `db`'s cached tip; the result is not cached).
 */
export async function historyTip(db: Kysely<Database>, ref: GitHistoryRef, opts: { trx?: Kysely<Database> } = {}): Promise<HistoryTip> {
  checkHistoryName(ref.history);
  const key = `${ref.repoId}/${ref.history}`;
  const cached = cacheOf(tips, db);
  if (opts.trx) return forward(opts.trx, ref, cached.get(key));
  const inFlight = cacheOf(reading, db);
  for (let waiting = inFlight.get(key); waiting; waiting = inFlight.get(key)) await waiting.catch(() => {});
  const work = forward(db, ref, cached.get(key));
  inFlight.set(key, work);
  try {
    const tip = await work;
    cached.set(key, tip);
    return tip;
  } finally {
    if (inFlight.get(key) === work) inFlight.delete(key);
  }
}

/** Forgets the cached tips of a database (tests that rewrite its rows behind its back). */
export function forgetHistoryTips(db: Kysely<Database>): void {
  tips.delete(db);
}

async function forward(db: Kysely<Database>, ref: GitHistoryRef, cached: HistoryTip | undefined): Promise<HistoryTip> {
  const last = await historyHead(db, ref);
  if (!last) return { head: 0, message: '', files: new Map() };
  // A head below the cached one means another database (a restore): start over.
  if (cached && cached.head === last.id) return cached;
  const base = cached && cached.head < last.id ? cached : undefined;
  const files = new Map(base?.files ?? []);
  let after = base?.head ?? 0;
  for (;;) {
    const rows = await db
      .selectFrom('git_history')
      .select(['id', 'tree'])
      .where('repo_id', '=', ref.repoId)
      .where('history', '=', ref.history)
      .where('id', '>', after)
      .where('id', '<=', last.id)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    if (rows.some((r) => r.tree !== null))
      throw new LarderError('INTERNAL', `git history ${ref.history} records whole trees; its tip is read from git`);
    const changed = await db
      .selectFrom('git_history_files')
      .select(['commit_id', 'path', 'mode', 'body'])
      .where(
        'commit_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('commit_id')
      .execute();
    for (const f of changed) {
      if (f.body === null) files.delete(f.path);
      else {
        const data = Buffer.from(f.body);
        files.set(f.path, { mode: f.mode as GitFileMode, data, blob: gitBlobId(data) });
      }
    }
    after = rows[rows.length - 1]!.id;
  }
  return { head: last.id, message: last.message, files };
}

/**
 * Serialises the writers of one history inside their transaction, so a commit is diffed against the
 * tip it follows. SQLite write transactions are already serial (BEGIN IMMEDIATE).
 */
export async function lockHistory(trx: Kysely<Database>, dialect: Dialect, ref: GitHistoryRef): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`git-history:${ref.repoId}:${ref.history}`}))`.execute(trx);
}

/** The changes that turn the files of `from` into `to` (paths in byte order, as git sorts them). */
export function diffFiles(
  from: ReadonlyMap<string, HistoryFile>,
  to: ReadonlyMap<string, { mode: GitFileMode; data: Uint8Array; blob?: string }>,
): Array<{ path: string; mode: GitFileMode; data: Uint8Array | null }> {
  const changes: Array<{ path: string; mode: GitFileMode; data: Uint8Array | null }> = [];
  for (const [path, f] of to) {
    const old = from.get(path);
    if (old && old.mode === f.mode && old.blob === (f.blob ?? gitBlobId(f.data))) continue;
    changes.push({ path, mode: f.mode, data: f.data });
  }
  for (const [path, f] of from) if (!to.has(path)) changes.push({ path, mode: f.mode, data: null });
  return changes.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/**
 * Gives a history with no commits an empty first one, so its branch exists from the start: a client
 * that clones an empty index can then `git pull` the branch instead of re-cloning every time (moon).
 */
export async function beginHistory(store: { db: Kysely<Database>; dialect: Dialect }, ref: GitHistoryRef): Promise<void> {
  if (await historyHead(store.db, ref)) return;
  await inTransaction(store, async (uow) => {
    await lockHistory(uow.trx, store.dialect, ref);
    if (!(await historyHead(uow.trx, ref))) await recordGitCommit(uow.trx, ref, { message: `Begin the ${ref.history}`, changes: [] });
  });
}
