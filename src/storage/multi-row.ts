import type { Compilable, Kysely } from 'kysely';
import type { Dialect } from './db.js';
import { runCompiled } from './prepared.js';
import type { Database } from './schema.js';

/**
 * A statement over many rows (a multi-row insert, a delete per row) that Kysely compiles once per chunk size rather
 * than once per call: compiling a 500-row insert costs about as much as SQLite spends running it (issue 14, imports).
 * The rows are cut into chunks of `maxRows` and then powers of two, so a handful of sizes (each one SQL text, one
 * prepared statement in the SQLite cache) serve any count. One instance per database dialect: the SQL is the dialect's.
 */
export class MultiRowStatement<R, DB = Database> {
  private readonly compiled = new Map<number, string>();

  constructor(
    /** Most rows per statement: mind the dialect's parameter limit (SQLite 32,766, PostgreSQL 65,535). */
    private readonly maxRows: number,
    /** The statement for these rows, as Kysely builds it. */
    private readonly build: (db: Kysely<DB>, rows: R[]) => Compilable<unknown>,
    /** A row's parameters in the order `build`'s statement takes them (checked against Kysely's the first time). */
    private readonly params: (row: R) => readonly unknown[],
  ) {}

  /** Runs the statement over `rows` (inside the caller's transaction when `db` is one). */
  async run(db: Kysely<DB>, rows: readonly R[]): Promise<void> {
    let at = 0;
    while (at < rows.length) {
      const n = chunkSize(rows.length - at, this.maxRows);
      const chunk = rows.slice(at, at + n);
      at += n;
      const params: unknown[] = [];
      for (const row of chunk) for (const p of this.params(row)) params.push(p);
      let text = this.compiled.get(n);
      if (text === undefined) {
        const query = this.build(db, chunk).compile();
        if (query.parameters.length !== params.length || query.parameters.some((p, i) => p !== params[i]))
          throw new Error(`MultiRowStatement: the parameters given do not match the statement's (${query.sql.slice(0, 80)}…)`);
        text = query.sql;
        this.compiled.set(n, text);
      }
      await runCompiled(db, text, params);
    }
  }
}

/** The next chunk of `left` rows: `max` while that many are left, then the largest power of two that fits. */
export function chunkSize(left: number, max: number): number {
  if (left >= max) return max;
  return 2 ** Math.floor(Math.log2(left));
}

/** One set of statements per dialect, made on first use: what `MultiRowStatement`s shared across databases need. */
export function perDialect<T>(make: () => T): (dialect: Dialect) => T {
  const made = new Map<Dialect, T>();
  return (dialect) => {
    let value = made.get(dialect);
    if (value === undefined) made.set(dialect, (value = make()));
    return value;
  };
}
