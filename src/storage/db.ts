import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { coreMigrations } from './migrations.js';
import { resilientPool } from './pg-pool.js';
import { cachingStatements } from './sqlite-statements.js';
import { adoptSqlite } from './prepared.js';
import { openSqliteFile } from './sqlite-open.js';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;

/** A migration that can emit dialect-specific DDL (auto-increment keys, blob types). */
export interface DialectMigration {
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/**
 * A format's migrations by name, their code (and what it imports) loaded only when one has to run: a start only checks
 * the names (cold start, issue 14). `names` must be exactly those `load` gives (each format's test checks it).
 */
export function lazyMigrations(names: string[], load: () => Promise<DialectMigration[]>): DialectMigration[] {
  return names.map((name) => ({
    name,
    async up(db, dialect) {
      const migration = (await load()).find((m) => m.name === name);
      if (!migration) throw new Error(`migration ${name} is not among those its module defines`);
      await migration.up(db, dialect);
    },
  }));
}

export interface DatabaseHandle {
  db: Db;
  dialect: Dialect;
  close(): Promise<void>;
}

export type DatabaseTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Opens SQLite (WAL) or PostgreSQL and brings the schema up to date with every migration given. */
export async function openDatabase(target: DatabaseTarget, extra: DialectMigration[] = []): Promise<DatabaseHandle> {
  const handle = target.kind === 'sqlite' ? openSqlite(target.path) : await openPostgres(target.url);
  try {
    await migrate(handle, [...coreMigrations, ...extra]);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

function openSqlite(file: string): DatabaseHandle {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = openSqliteFile(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // The CLI writes tokens while a server runs on the same file: wait rather than fail.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // Savepoint journals (group-commit.ts: a savepoint per grouped publish) stay in memory instead of spilling to a
  // temporary file past 64 KiB, which took ~0.3 ms of the event loop per publish; temporary tables and sorts do too.
  sqlite.pragma('temp_store = MEMORY');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  adoptSqlite(db, sqlite);
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

// Loaded only when PostgreSQL is configured: it costs ~100 ms of every SQLite start.
async function openPostgres(url: string): Promise<DatabaseHandle> {
  const { default: pgModule } = await import('pg');
  // int8 and numeric come back from pg as strings; Larder's counters and times fit in a double.
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === 20 || oid === 1700) return (v: string) => Number(v);
      return pgModule.types.getTypeParser(oid, format);
    },
  } as pg.CustomTypesConfig;
  const pool = new pgModule.Pool({
    connectionString: url,
    max: 10,
    types,
    // A server that does not answer (failover, a black-holed network) fails requests with 503 instead of holding them.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // The notification listener (registry/events.ts) reports outages; a lost client here needs no log of its own.
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: resilientPool(pool, () => {}) }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

/**
 * True when exactly these migrations have run: one query, where Kysely's Migrator takes several (table checks, a
 * lock, the list) on every start (issue 14). Anything else (a new database, a pending or unknown migration) goes
 * through the Migrator as before.
 */
async function upToDate(handle: DatabaseHandle, names: string[]): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(handle.db);
    const done = new Set(rows.map((r) => r.name));
    return done.size === names.length && names.every((n) => done.has(n));
  } catch {
    return false;
  }
}

async function migrate(handle: DatabaseHandle, migrations: DialectMigration[]): Promise<void> {
  if (
    await upToDate(
      handle,
      migrations.map((m) => m.name),
    )
  )
    return;
  const byName: Record<string, Migration> = {};
  for (const m of migrations) byName[m.name] = { up: (db) => m.up(db, handle.dialect) };
  const migrator = new Migrator({
    db: handle.db,
    provider: { getMigrations: async () => byName },
    // Format migrations interleave with core ones by name; order within a prefix is what matters.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${(error as Error).message}`);
  }
}

/** True when `err` is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
