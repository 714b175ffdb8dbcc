import type { Kysely } from 'kysely';
import type { Registry } from '../../registry/registry.js';
import type { Database } from '../../storage/schema.js';
import type { JuliaTables } from './schema.js';

export type JuliaDb = Kysely<Database & JuliaTables>;

/** The Julia tables of a registry's database. */
export function juliaDb(registry: Registry): JuliaDb {
  return registry.db.withTables<JuliaTables>() as JuliaDb;
}
