/**
 * Group commit on SQLite: write units that arrive while one is running share its transaction and its COMMIT (each in a
 * SAVEPOINT of its own), so concurrent publishes pay for one WAL append of the pages they share instead of one each.
 * A unit that fails is rolled back to its savepoint alone and rejected at once; the others are answered only after the
 * COMMIT that holds them, and their after-commit work (cache invalidation, peers, static origins) runs after it too.
 */
import type { Db, Trx } from '../storage/db.js';
import { adoptHeldConnection, executeControl } from '../storage/prepared.js';
import type { UnitOfWork } from './tx.js';

/** The most units one transaction takes, and how long it stays open waiting for more: a bound on the latency it adds. */
const MAX_UNITS = 64;
const MAX_OPEN_MS = 4;

interface Pending {
  fn: (uow: UnitOfWork) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Landed {
  unit: Pending;
  value: unknown;
  after: Array<() => void | Promise<void>>;
}

/** How grouping went so far (tests, and the figures in bench/RESULTS.md). */
export interface GroupCommitStats {
  /** Transactions committed (or failed) by the writer. */
  groups: number;
  /** Units run in them, failed ones included. */
  units: number;
}

/** The units of one SQLite database (one connection: Kysely's SqliteDriver has a single one), run group by group. */
class GroupWriter {
  private readonly queue: Pending[] = [];
  private running = false;
  readonly stats: GroupCommitStats = { groups: 0, units: 0 };

  constructor(private readonly db: Db) {}

  /** Number of units waiting for a transaction. */
  get waiting(): number {
    return this.queue.length;
  }

  run<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.group();
    } finally {
      this.running = false;
    }
  }

  /**
   * One transaction: BEGIN IMMEDIATE (the write lock, waiting for other processes up to busy_timeout), then units
   * while any are waiting (after each, one turn of the event loop lets units that became ready join), then COMMIT.
   * The connection is released between groups, so reads queued meanwhile run before the next one.
   */
  private async group(): Promise<void> {
    const landed: Landed[] = [];
    let failure: { err: unknown } | null = null;
    let begun = false;
    try {
      await this.db.connection().execute(async (conn) => {
        const trx = conn as unknown as Trx;
        adoptHeldConnection(trx, this.db);
        await executeControl(trx, 'begin immediate');
        begun = true;
        try {
          const opened = performance.now();
          for (let n = 0; n < MAX_UNITS; n++) {
            let unit = this.queue.shift();
            if (!unit && performance.now() - opened < MAX_OPEN_MS) {
              await new Promise<void>((resolve) => setImmediate(resolve));
              unit = this.queue.shift();
            }
            if (!unit) break;
            this.stats.units++;
            const done = await runUnit(trx, unit);
            if (done) landed.push(done);
          }
          await executeControl(trx, 'commit');
        } catch (err) {
          await executeControl(trx, 'rollback').catch(() => {});
          throw err;
        }
      });
    } catch (err) {
      failure = { err };
      // No transaction (the write lock stayed with another process past busy_timeout): the units waiting for one
      // fail as a plain transaction would, rather than wait for ever.
      if (!begun) for (const unit of this.queue.splice(0)) unit.reject(err);
    }
    this.stats.groups++;
    for (const done of landed) {
      if (failure) done.unit.reject(failure.err);
      else void finish(done);
    }
  }
}

/**
 * Runs one unit in a savepoint: its value and after-commit work when it succeeded, undefined when it failed (it is
 * rejected at once: its writes are undone, nothing of it will commit). Throws when the savepoint itself cannot be
 * undone (SQLite gave up the whole transaction, e.g. a full disk): the group fails.
 */
async function runUnit(trx: Trx, unit: Pending): Promise<Landed | undefined> {
  const after: Array<() => void | Promise<void>> = [];
  const before: Array<() => Promise<void>> = [];
  await executeControl(trx, 'savepoint larder_unit');
  try {
    const value = await unit.fn({ trx, afterCommit: (f) => after.push(f), beforeCommit: (f) => before.push(f) });
    for (const f of before) await f();
    await executeControl(trx, 'release larder_unit');
    return { unit, value, after };
  } catch (err) {
    unit.reject(err);
    await executeControl(trx, 'rollback to larder_unit');
    await executeControl(trx, 'release larder_unit');
    return undefined;
  }
}

/** After the COMMIT: the unit's after-commit work, then its answer. */
async function finish(done: Landed): Promise<void> {
  try {
    for (const f of done.after) await f();
    done.unit.resolve(done.value);
  } catch (err) {
    done.unit.reject(err);
  }
}

const writers = new WeakMap<object, GroupWriter>();

function writerOf(db: Db): GroupWriter {
  // Keyed by the executor, which `withTables` copies share: every view of one database groups together.
  const key = db.getExecutor();
  let writer = writers.get(key);
  if (!writer) writers.set(key, (writer = new GroupWriter(db)));
  return writer;
}

/** Runs `fn` as one unit of a group transaction on this SQLite database; resolves once it has committed. */
export function inGroupTransaction<T>(db: Db, fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
  return writerOf(db).run(fn);
}

/** Grouping so far on this database, and how many units wait now. */
export function groupCommitStats(db: Db): GroupCommitStats & { waiting: number } {
  const writer = writerOf(db);
  return { ...writer.stats, waiting: writer.waiting };
}
