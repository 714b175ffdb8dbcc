import { sql, type Kysely } from 'kysely';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';
import { nameKey } from '../../registry/search/query.js';
import { MAX_README_LENGTH } from '../../registry/readmes.js';
import { readIndexLine } from './index-file.js';
import { dependencyNames, keywordsOf } from './search-fields.js';
import { defaultVersion } from './semver.js';

export const cargoMigrations: DialectMigration[] = [
  {
    name: 'cargo_0001_crates',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('cargo_crates'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('norm_name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('max_version', 'text')
        .addColumn('created_at', millis, (c) => c.notNull())
        .addColumn('updated_at', millis, (c) => c.notNull())
        .addUniqueConstraint('cargo_crates_norm', ['repo_id', 'norm_name'])
        .execute();

      await withId(db.schema.createTable('cargo_versions'), dialect)
        .addColumn('crate_id', 'integer', (c) => c.notNull().references('cargo_crates.id'))
        .addColumn('vers', 'text', (c) => c.notNull())
        .addColumn('vers_key', 'text', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addColumn('yanked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cksum', 'text', (c) => c.notNull())
        .addColumn('size', millis, (c) => c.notNull())
        .addColumn('pubtime', millis, (c) => c.notNull())
        .addColumn('published_by', 'integer')
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addUniqueConstraint('cargo_versions_key', ['crate_id', 'vers_key'])
        .execute();

      await db.schema
        .createTable('cargo_owners')
        .addColumn('crate_id', 'integer', (c) => c.notNull().references('cargo_crates.id'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addPrimaryKeyConstraint('cargo_owners_pk', ['crate_id', 'user_id'])
        .execute();
    },
  },
  {
    // Owners moved below the formats (registry/owners.ts): keyed by the normalised crate name.
    name: 'cargo_0002_shared_owners',
    async up(db: Kysely<unknown>) {
      await sql`insert into package_owners (repo_id, package, user_id, created_at)
        select c.repo_id, c.norm_name, o.user_id, c.created_at from cargo_owners o join cargo_crates c on c.id = o.crate_id`.execute(db);
      await db.schema.dropTable('cargo_owners').execute();
    },
  },
  {
    // The shared search service (registry/search, core 0007) indexes crates published before it existed: every crate
    // with a non-yanked version, with the keywords of its newest version's publish metadata.
    name: 'cargo_0003_search_entries',
    async up(db: Kysely<unknown>) {
      const crates = await sql<{
        id: number;
        repo_id: number;
        name: string;
        norm_name: string;
        description: string | null;
        max_version: string;
        updated_at: number;
      }>`
        select id, repo_id, name, norm_name, description, max_version, updated_at from cargo_crates where max_version is not null`.execute(
        db,
      );
      for (const c of crates.rows) {
        const newest = await sql<{ metadata: string }>`
          select metadata from cargo_versions where crate_id = ${c.id} order by id desc limit 1`.execute(db);
        await sql`insert into search_entries (repo_id, format, package, name, name_key, description, keywords, latest_version, updated_at)
          values (${c.repo_id}, 'cargo', ${c.norm_name}, ${c.name}, ${nameKey(c.name)}, ${c.description},
            ${keywordsOf(newest.rows[0]?.metadata).join(' ')}, ${c.max_version}, ${Number(c.updated_at)})`.execute(db);
      }
    },
  },
  {
    // The web UI (core 0008) reads, for crates published before it: what each latest version depends on (search's
    // "depended on by"), the README each publish carried (kept in its metadata), and the version a new dependant
    // gets (a release before a pre-release, where 0003 took the highest). Idempotent: entries and lists are replaced.
    name: 'cargo_0004_dependencies_readmes',
    async up(db: Kysely<unknown>) {
      const crates = await sql<{ id: number; repo_id: number; name: string; norm_name: string; description: string | null }>`
        select id, repo_id, name, norm_name, description from cargo_crates order by id`.execute(db);
      for (const c of crates.rows) {
        const versions = await sql<{ id: number; vers: string; line: string; yanked: number }>`
          select id, vers, line, yanked from cargo_versions where crate_id = ${c.id} order by id`.execute(db);
        await backfillReadmes(db, c, versions.rows);
        await sql`delete from search_dependencies where repo_id = ${c.repo_id} and package = ${c.norm_name}`.execute(db);
        const latest = defaultVersion(versions.rows.map((v) => ({ vers: v.vers, yanked: Boolean(Number(v.yanked)) })));
        if (latest === null) {
          await sql`delete from search_entries where repo_id = ${c.repo_id} and package = ${c.norm_name}`.execute(db);
          continue;
        }
        const newest = versions.rows.length ? versions.rows[versions.rows.length - 1] : undefined;
        const metadata = newest ? await metadataOf(db, newest.id) : undefined;
        await sql`insert into search_entries (repo_id, format, package, name, name_key, description, keywords, latest_version, updated_at)
          values (${c.repo_id}, 'cargo', ${c.norm_name}, ${c.name}, ${nameKey(c.name)}, ${c.description},
            ${keywordsOf(metadata).join(' ')}, ${latest}, ${Date.now()})
          on conflict (repo_id, package) do update set latest_version = excluded.latest_version`.execute(db);
        const line = readIndexLine(versions.rows.find((v) => v.vers === latest)?.line ?? '');
        const keys = [...new Set(dependencyNames(line?.deps ?? []).map(nameKey))].filter((k) => k !== '');
        for (const key of keys) {
          await sql`insert into search_dependencies (repo_id, package, dependency_key) values (${c.repo_id}, ${c.norm_name}, ${key})`.execute(
            db,
          );
        }
      }
    },
  },
];

/** One version's stored publish metadata (read one at a time: with READMEs inside, a crate's versions may be large). */
async function metadataOf(db: Kysely<unknown>, versionId: number): Promise<string | undefined> {
  const r = await sql<{ metadata: string }>`select metadata from cargo_versions where id = ${versionId}`.execute(db);
  return r.rows[0]?.metadata;
}

/** Copies the README each version's publish metadata carried into package_readmes (cut as putReadme cuts), keeping any already there. */
async function backfillReadmes(
  db: Kysely<unknown>,
  crate: { repo_id: number; norm_name: string },
  versions: ReadonlyArray<{ id: number; vers: string }>,
): Promise<void> {
  for (const v of versions) {
    let readme: unknown;
    try {
      readme = (JSON.parse((await metadataOf(db, v.id)) ?? '{}') as { readme?: unknown }).readme;
    } catch {
      continue;
    }
    if (typeof readme !== 'string' || readme.trim() === '') continue;
    // The cut putReadme makes at publish, written out here so this migration keeps doing what it did.
    const markdown =
      readme.length > MAX_README_LENGTH
        ? `${readme.slice(0, MAX_README_LENGTH)}\n\n*(README cut at ${MAX_README_LENGTH / 1024} KiB)*\n`
        : readme;
    await sql`insert into package_readmes (repo_id, package, version, markdown) values (${crate.repo_id}, ${crate.norm_name}, ${v.vers}, ${markdown})
      on conflict (repo_id, package, version) do nothing`.execute(db);
  }
}
