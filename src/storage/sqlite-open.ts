import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';

let addon: string | null | undefined;

/**
 * better-sqlite3's native addon by its path: without one better-sqlite3 asks the `bindings` package, which tries a
 * dozen places (cold start, issue 14), and which cannot find it from the bundle bin/larder.js runs (scripts/bundle.js).
 */
function addonPath(): string | null {
  if (addon === undefined) {
    const file = path.join(path.dirname(createRequire(import.meta.url).resolve('better-sqlite3')), '../build/Release/better_sqlite3.node');
    addon = existsSync(file) ? file : null;
  }
  return addon;
}

/** Opens a SQLite database file (or `:memory:`) with better-sqlite3; every connection Larder makes is opened here. */
export function openSqliteFile(file: string, options: SqliteDatabase.Options = {}): SqliteDatabase.Database {
  const nativeBinding = addonPath();
  return new SqliteDatabase(file, nativeBinding ? { ...options, nativeBinding } : options);
}
