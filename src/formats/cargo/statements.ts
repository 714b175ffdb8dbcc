/** The queries of a Cargo publish, prepared once (storage/prepared.ts): they run on every publish. */
import type { Kysely } from 'kysely';
import { prepared } from '../../storage/prepared.js';
import type { Database } from '../../storage/schema.js';
import type { CargoTables } from './schema.js';

type CargoDb = Kysely<Database & CargoTables>;

/** A crate by its normalised name. */
export const crateByName = prepared('cargo crate by name', (db: CargoDb, p: { repoId: number; normName: string }) =>
  db.selectFrom('cargo_crates').selectAll().where('repo_id', '=', p.repoId).where('norm_name', '=', p.normName),
);

/** `crateByName` locking the row until the transaction ends (PostgreSQL). */
export const crateByNameForUpdate = prepared('cargo crate by name for update', (db: CargoDb, p: { repoId: number; normName: string }) =>
  db.selectFrom('cargo_crates').selectAll().where('repo_id', '=', p.repoId).where('norm_name', '=', p.normName).forUpdate(),
);

/** A new crate row, or none when another request created it first. */
export const insertCrate = prepared(
  'cargo crate insert',
  (db: CargoDb, p: { repoId: number; name: string; normName: string; description: string | null; now: number }) =>
    db
      .insertInto('cargo_crates')
      .values({
        repo_id: p.repoId,
        name: p.name,
        norm_name: p.normName,
        description: p.description,
        max_version: null,
        created_at: p.now,
        updated_at: p.now,
      })
      .onConflict((oc) => oc.columns(['repo_id', 'norm_name']).doNothing())
      .returningAll(),
);

/** The version of a crate with this key (build metadata left out). */
export const versionByKey = prepared('cargo version by key', (db: CargoDb, p: { crateId: number; versKey: string }) =>
  db.selectFrom('cargo_versions').selectAll().where('crate_id', '=', p.crateId).where('vers_key', '=', p.versKey),
);

export const insertVersion = prepared(
  'cargo version insert',
  (
    db: CargoDb,
    p: {
      crateId: number;
      vers: string;
      versKey: string;
      line: string;
      cksum: string;
      size: number;
      pubtime: number;
      publishedBy: number | null;
      metadata: string;
    },
  ) =>
    db.insertInto('cargo_versions').values({
      crate_id: p.crateId,
      vers: p.vers,
      vers_key: p.versKey,
      line: p.line,
      yanked: 0,
      cksum: p.cksum,
      size: p.size,
      pubtime: p.pubtime,
      published_by: p.publishedBy,
      metadata: p.metadata,
    }),
);

/** Every version's index line, in publish order: the index file. */
export const versionLines = prepared('cargo version lines', (db: CargoDb, p: { crateId: number }) =>
  db.selectFrom('cargo_versions').select(['vers', 'line', 'yanked']).where('crate_id', '=', p.crateId).orderBy('id'),
);

export const updateCrate = prepared('cargo crate update', (db: CargoDb, p: { id: number; maxVersion: string | null; updatedAt: number }) =>
  db.updateTable('cargo_crates').set({ max_version: p.maxVersion, updated_at: p.updatedAt }).where('id', '=', p.id),
);

/** `updateCrate` with the description of a publish. */
export const updateCrateDescribed = prepared(
  'cargo crate update with description',
  (db: CargoDb, p: { id: number; maxVersion: string | null; updatedAt: number; description: string | null }) =>
    db
      .updateTable('cargo_crates')
      .set({ max_version: p.maxVersion, updated_at: p.updatedAt, description: p.description })
      .where('id', '=', p.id),
);
