/**
 * Prepared statements for hot queries (a publish runs ~15). A statement is written once with the query builder, with
 * named parameters, and compiled once per dialect; running it only fills in the values. On SQLite it then runs on
 * better-sqlite3 directly: no query building, no Kysely executor (a dozen promises and its mutex per query) and far
 * less garbage; on PostgreSQL it goes through Kysely with the compiled text.
 *
 * Parameters are plain values: never a list (`in` takes a fixed number of values at compile time) and never
 * undefined (the builder would have left the column out).
 */
import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, sql, type Compilable, type Kysely } from 'kysely';

interface Handle {
  sqlite: SqliteDatabase.Database;
  /** A connection the caller holds (inside its transaction), rather than the shared one any request may be using. */
  held: boolean;
}

/** better-sqlite3 behind Kysely executors (every `withTables` view of a database shares its executor). */
const handles = new WeakMap<object, Handle>();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** Lets prepared statements on `db` run on the better-sqlite3 database behind it. */
export function adoptSqlite(db: AnyDb, sqlite: SqliteDatabase.Database): void {
  handles.set(db.getExecutor(), { sqlite, held: false });
}

/** `conn` is a connection of `db` its user holds for a transaction: statements on it run directly, always. */
export function adoptHeldConnection(conn: AnyDb, db: AnyDb): void {
  const handle = handles.get(db.getExecutor());
  if (handle) handles.set(conn.getExecutor(), { sqlite: handle.sqlite, held: true });
}

const PARAM = '\u0000larder-param\u0000';

interface Plan {
  sql: string;
  /** Per placeholder: the parameter's name, or null for a constant written into the builder (`constants`). */
  names: Array<string | null>;
  constants: unknown[];
}

/** A query compiled once per dialect; see the file comment. */
export class Prepared<P extends Record<string, unknown>, O> {
  /** By dialect adapter class. */
  private readonly plans = new Map<unknown, Plan>();

  constructor(
    /** What the statement is, for error messages. */
    private readonly name: string,
    private readonly build: (db: AnyDb, p: P) => Compilable<O>,
  ) {}

  /** The rows the statement returns (none for a write without `returning`). */
  async all(db: AnyDb, params: P): Promise<O[]> {
    const plan = this.plan(db);
    const values = plan.names.map((name, i) => {
      if (name === null) return plan.constants[i];
      const value = params[name];
      if (value === undefined) throw new Error(`prepared statement ${this.name}: no value for ${name}`);
      return value;
    });
    return (await runCompiled(db, plan.sql, values)) as O[];
  }

  /** The first row, or undefined. */
  async first(db: AnyDb, params: P): Promise<O | undefined> {
    return (await this.all(db, params))[0];
  }

  private plan(db: AnyDb): Plan {
    const dialect = db.getExecutor().adapter.constructor;
    let plan = this.plans.get(dialect);
    if (!plan) {
      const params = new Proxy({}, { get: (_, name) => (typeof name === 'string' ? PARAM + name : undefined) }) as P;
      const compiled = this.build(db, params).compile();
      const names = compiled.parameters.map((v) => (typeof v === 'string' && v.startsWith(PARAM) ? v.slice(PARAM.length) : null));
      plan = { sql: compiled.sql, names, constants: [...compiled.parameters] };
      this.plans.set(dialect, plan);
    }
    return plan;
  }
}

/** Statements by SQL text, per SQLite database (one text per `Prepared` and per `MultiRowStatement` chunk size). */
const statements = new WeakMap<SqliteDatabase.Database, Map<string, SqliteDatabase.Statement>>();

function statementFor(sqlite: SqliteDatabase.Database, text: string): SqliteDatabase.Statement {
  let cache = statements.get(sqlite);
  if (!cache) statements.set(sqlite, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) cache.set(text, (stmt = sqlite.prepare(text)));
  return stmt;
}

/**
 * Runs compiled SQL with its values: on SQLite directly through better-sqlite3 when the connection is free or held by
 * the caller, else through Kysely's executor. What `Prepared` and `MultiRowStatement` share.
 */
export async function runCompiled(db: AnyDb, text: string, values: unknown[]): Promise<unknown[]> {
  const handle = handles.get(db.getExecutor());
  // The shared connection is free unless a transaction is open on it (then its holder is mid-way: wait for it).
  if (handle && (handle.held || !handle.sqlite.inTransaction)) {
    const stmt = statementFor(handle.sqlite, text);
    if (stmt.reader) return stmt.all(values);
    stmt.run(values);
    return [];
  }
  return (await db.executeQuery(CompiledQuery.raw(text, values))).rows;
}

/** A prepared statement (see the file comment); `build` gets the parameters by name as placeholders. */
export function prepared<P extends Record<string, unknown>, O>(name: string, build: (db: AnyDb, p: P) => Compilable<O>): Prepared<P, O> {
  return new Prepared(name, build);
}

/**
 * Runs a statement without parameters or rows (BEGIN, SAVEPOINT, COMMIT…): directly on a held SQLite connection,
 * else through Kysely.
 */
export async function executeControl(db: AnyDb, text: string): Promise<void> {
  const handle = handles.get(db.getExecutor());
  if (!handle?.held) return void (await sql.raw(text).execute(db));
  statementFor(handle.sqlite, text).run();
}
