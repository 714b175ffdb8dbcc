import { openSqliteFile } from './sqlite-open.js';

/**
 * SQLite's online backup of `from` into the new file `to`: a consistent snapshot taken page by
 * page while other processes keep writing (better-sqlite3 `db.backup`).
 */
export async function backupSqliteFile(from: string, to: string): Promise<void> {
  const source = openSqliteFile(from, { fileMustExist: true });
  try {
    source.pragma('busy_timeout = 5000');
    await source.backup(to);
  } finally {
    source.close();
  }
}

/** The `blobs` rows of a database file (a backup snapshot), without migrating or opening a registry. */
export function blobRowsOf(file: string): Array<{ sha256: string; size: number }> {
  const db = openSqliteFile(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('select sha256, size from blobs order by sha256').all() as Array<{ sha256: string; size: number }>;
  } finally {
    db.close();
  }
}
