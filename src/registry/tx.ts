import { sql } from 'kysely';
import type { Db, Dialect, Trx } from '../storage/db.js';
import { adoptHeldConnection } from '../storage/prepared.js';
import { inGroupTransaction } from './group-commit.js';

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

export interface TransactionOptions {
  /**
   * On SQLite, let this unit share a transaction and its COMMIT with concurrent units that ask the same, each in a
   * savepoint of its own (group-commit.ts); PostgreSQL runs it alone. Only for units that wait on nothing but the
   * database inside (no in-process locks, no outbound calls, no waiting for another request): a unit grouped behind
   * one that waits for it would wait for itself.
   */
  group?: boolean;
}

/** Runs `fn` in one write transaction, then the unit's after-commit work. */
export async function inTransaction<T>(
  store: { db: Db; dialect: Dialect },
  fn: (uow: UnitOfWork) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  if (opts.group && store.dialect === 'sqlite') return inGroupTransaction(store.db, fn);
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
    adoptHeldConnection(conn, db);
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
