import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import { openSqliteFile } from '../storage/sqlite-open.js';
import type { Trx } from '../storage/db.js';
import { MultiRowStatement } from '../storage/multi-row.js';
import type { Database } from '../storage/schema.js';

/** A name for one opened registry in `index_changes.origin`: its own changes need no replay. */
export function newOrigin(): string {
  return `${process.pid}-${randomUUID()}`;
}

/**
 * Records changed documents inside the transaction that changes them (SQLite's counterpart of PostgreSQL's NOTIFY in
 * events.ts): the rows become visible to other processes with the commit. The path `WHOLE_REPO` (index-docs.ts) stands
 * for every document of the repo.
 */
export async function logIndexChange(trx: Trx, origin: string, repoId: number, paths: string[]): Promise<void> {
  const at = Date.now();
  await logRows.run(
    trx,
    paths.map((path) => ({ repo_id: repoId, path, at, origin })),
  );
}

// Rows per statement: 4 parameters each, well under SQLite's 32,766; one statement per chunk rather than per path.
const LOG_CHUNK = 500;
const logRows = new MultiRowStatement<Insertable<Database['index_changes']>>(
  LOG_CHUNK,
  (db, rows) => db.insertInto('index_changes').values(rows),
  (r) => [r.repo_id, r.path, r.at, r.origin],
);

export interface SqliteChangeWatcher {
  /** Checks once now (tests, and before answering something that must be fresh). */
  poll(): void;
  close(): void;
}

export interface WatchOptions {
  /** The origin this registry logs its own changes under (see newOrigin). */
  origin: string;
  intervalMs?: number;
  /** Rows older than this are deleted; a process further behind forgets its whole cache. */
  keepMs?: number;
  log?: (msg: string, err?: unknown) => void;
}

// More pending changes than this are cheaper to handle by forgetting everything.
const MAX_REPLAY = 5000;

/**
 * Notices commits other processes (a second `larder serve`, a CLI import) make to the same
 * SQLite file: `PRAGMA data_version` on a connection of its own changes whenever anyone commits,
 * and costs no I/O; only then is `index_changes` read, and `onChange` runs for each path another
 * process changed. When rows were pruned before this process read them, `onReset` runs instead.
 */
export function watchSqliteChanges(
  file: string,
  onChange: (repoId: number, path: string) => void,
  onReset: () => void,
  opts: WatchOptions,
): SqliteChangeWatcher {
  const { origin, intervalMs = 200, keepMs = 10 * 60_000, log = () => {} } = opts;
  const conn = openSqliteFile(file, { fileMustExist: true });
  // Pruning must never wait for a writer: it simply tries again next time.
  conn.pragma('busy_timeout = 0');
  const version = conn.prepare('pragma data_version').pluck();
  const maxSeq = conn.prepare('select coalesce(max(id), 0) from index_changes').pluck();
  const since = conn.prepare('select id, repo_id, path, origin from index_changes where id > ? order by id limit ?');
  const prune = conn.prepare('delete from index_changes where at < ?');
  let seen = version.get() as number;
  let lastSeq = maxSeq.get() as number;
  let lastPrune = 0;
  let closed = false;

  const tryPrune = () => {
    lastPrune = Date.now();
    try {
      prune.run(Date.now() - keepMs);
    } catch {
      // Busy: another process is writing; prune next time.
    }
  };
  tryPrune();

  const poll = () => {
    if (closed) return;
    try {
      const v = version.get() as number;
      if (v === seen) return;
      seen = v;
      const rows = since.all(lastSeq, MAX_REPLAY + 1) as Array<{ id: number; repo_id: number; path: string; origin: string }>;
      if (rows.length === 0) return;
      // Ids are consecutive (AUTOINCREMENT, rolled-back inserts take theirs back): a gap means rows were pruned unread.
      if (rows.length > MAX_REPLAY || rows[0]!.id !== lastSeq + 1) {
        onReset();
        lastSeq = maxSeq.get() as number;
        return;
      }
      // An import logs its repo once per transaction: told once per poll is enough.
      const told = new Set<string>();
      for (const r of rows) {
        const key = `${r.repo_id}\0${r.path}`;
        if (r.origin === origin || told.has(key)) continue;
        told.add(key);
        onChange(r.repo_id, r.path);
      }
      lastSeq = rows[rows.length - 1]!.id;
      if (Date.now() - lastPrune > 60_000) tryPrune();
    } catch (err) {
      // Unsure what changed: forget everything rather than serve something stale.
      log('could not read index changes from the database; cleared the index cache', err);
      onReset();
    }
  };
  const timer = setInterval(poll, intervalMs);
  // A CLI command must not stay alive for the watcher's sake.
  timer.unref();
  return {
    poll,
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      conn.close();
    },
  };
}
