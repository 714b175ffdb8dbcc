import { sql, type Kysely } from 'kysely';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';
import { nameKey } from '../../registry/search/query.js';
import { keywordsOf } from './search-fields.js';

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
];
