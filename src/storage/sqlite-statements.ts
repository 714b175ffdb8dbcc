import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';

/** How many distinct statements are kept prepared; queries with `in (…)` lists of varying length make the set open-ended. */
export const STATEMENT_CACHE_SIZE = 512;

/**
 * The database Kysely's SQLite dialect is given: better-sqlite3 with its prepared statements kept by SQL text. Kysely
 * prepares every query afresh, and preparing costs as much as running a small insert; a publish runs ~15 statements
 * and an import tens of thousands of identical ones. A statement still iterating (a streamed select) is busy and cannot
 * run again until it finishes, so a busy one is never handed out: that query gets a fresh statement.
 */
export function cachingStatements(sqlite: SqliteDatabase.Database, max = STATEMENT_CACHE_SIZE): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (sql: string): SqliteStatement => {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        // Most recently used last: the first key is the one to drop.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit as unknown as SqliteStatement;
      }
      const stmt = sqlite.prepare(sql);
      if (!hit) {
        cache.set(sql, stmt);
        if (cache.size > max) cache.delete(cache.keys().next().value!);
      }
      return stmt as unknown as SqliteStatement;
    },
  };
}
