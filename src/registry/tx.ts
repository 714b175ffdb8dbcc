import { sql } from 'kysely';
import type { Db, Dialect, Trx } from '../storage/db.js';

/** A database transaction plus the work that may only happen once it has committed. */
export interface UnitOfWork {
  trx: Trx;
  /**
   * Runs after a successful commit (cache invalidation, telling other processes); never on
   * rollback. `inTransaction` resolves only once these have finished.
   */
  afterCommit(fn: () => void | Promise<void>): void;
  /**
   * Runs inside the transaction once its callback has resolved, right before COMMIT, in order (a blob's
   * rename to its content address: see blob-records.ts). If one fails, the transaction rolls back.
   */
  beforeCommit(fn: () => Promise<void>): void;
}

/** Runs `fn` in one write transaction, then the unit's after-commit work. */
export async function inTransaction<T>(store: { db: Db; dialect: Dialect }, fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
  const after: Array<() => void | Promise<void>> = [];
  const afterCommit = (f: () => void | Promise<void>) => after.push(f);
  const unit = async (trx: Trx) => {
    const before: Array<() => Promise<void>> = [];
    const value = await fn({ trx, afterCommit, beforeCommit: (f) => before.push(f) });
    for (const f of before) await f();
    return value;
  };
  const result = store.dialect === 'sqlite' ? await sqliteImmediate(store.db, unit) : await store.db.transaction().execute(unit);
  for (const f of after) await f();
  return result;
}

/**
 * SQLite write transactions start with BEGIN IMMEDIATE: a deferred transaction that reads and
 * then writes fails at once with SQLITE_BUSY when another process (a worker, the CLI) committed
 * in between, whereas IMMEDIATE takes the write lock up front and waits for it (busy_timeout).
 */
async function sqliteImmediate<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn as unknown as Trx);
      await sql`commit`.execute(conn);
      return result;
    } catch (err) {
      await sql`rollback`.execute(conn);
      throw err;
    }
  });
}
