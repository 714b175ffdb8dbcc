import type { Db, Trx } from '../storage/db.js';

/** A database transaction plus the work that may only happen once it has committed. */
export interface UnitOfWork {
  trx: Trx;
  /** Runs after a successful commit (cache invalidation, notifications); never on rollback. */
  afterCommit(fn: () => void): void;
}

/** Runs `fn` in one transaction, then the unit's after-commit work. */
export async function inTransaction<T>(db: Db, fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
  const after: Array<() => void> = [];
  const result = await db.transaction().execute((trx) => fn({ trx, afterCommit: (f) => after.push(f) }));
  for (const f of after) f();
  return result;
}
