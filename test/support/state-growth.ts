/**
 * What a write added to the registry, for "a retried or concurrent write leaves the state one write
 * leaves" assertions: the rows each table gained and the blob files that appeared between two snapshots.
 * Two snapshots around two different writes of the same kind grow alike, whatever ids and times they hold.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/storage/schema.js';
import type { RegistryState } from './state.js';

/** Rows gained per table (tables that did not change left out) and `blob files` gained. */
export function growth(before: RegistryState, after: RegistryState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [table, rows] of Object.entries(after.tables)) {
    const gained = rows.length - (before.tables[table]?.length ?? 0);
    if (gained !== 0) out[table] = gained;
  }
  const files = Object.keys(after.blobFiles).length - Object.keys(before.blobFiles).length;
  if (files !== 0) out['blob files'] = files;
  return out;
}

/** Columns and tables left out of a snapshot, as in state.ts: a token's last use, a proxy's upstream health. */
const VOLATILE = new Set(['last_used_at']);
const VOLATILE_TABLES = new Set(['proxy_health']);

/**
 * `registryState` for PostgreSQL: every row of every table of the database's schema (as sorted JSON lines).
 * Blobs are counted by their `blobs` rows (the store may be S3); `blobFiles` and `tmpFiles` stay empty.
 */
export async function postgresState(db: Kysely<Database>): Promise<RegistryState> {
  const names = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely_%'
    order by table_name`.execute(db);
  const tables: Record<string, string[]> = {};
  for (const { table_name: name } of names.rows) {
    if (VOLATILE_TABLES.has(name)) continue;
    const r = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    tables[name] = r.rows
      .map((row) =>
        JSON.stringify(
          Object.entries(row)
            .filter(([k]) => !VOLATILE.has(k))
            .map(([k, v]) => [k, Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v]),
        ),
      )
      .sort();
  }
  return { tables, blobFiles: {}, tmpFiles: [] };
}
