import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../storage/db.js';
import type { Database } from '../storage/schema.js';

/**
 * Serialises, across every node, the transactions that read-modify-write one named thing (a file every
 * write rewrites from rows): a PostgreSQL advisory lock held until the transaction ends. SQLite write
 * transactions are serial already (BEGIN IMMEDIATE). Take locks in one order (narrow to wide) to avoid deadlocks.
 */
export async function lockNamed(trx: Kysely<Database>, dialect: Dialect, name: string): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${name}))`.execute(trx);
}
