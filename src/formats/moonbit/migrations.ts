import type { Kysely } from 'kysely';
import type { DialectMigration } from '../../storage/db.js';
import { millis } from '../../storage/migrations.js';

/** MoonBit's tables: one row per published (or imported) module version of a hosted repo. */
export const moonbitMigrations: DialectMigration[] = [
  {
    name: 'moonbit_0001_versions',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('moonbit_versions')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        // The full module name, `user/name`, as its index path spells it.
        .addColumn('module', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        // sha256 of the zip: the index `checksum` and the blob's content address.
        .addColumn('checksum', 'text', (c) => c.notNull())
        // Null for a version imported from an index without its zip (its download is a 404).
        .addColumn('size', millis)
        .addColumn('description', 'text')
        .addColumn('published_at', millis, (c) => c.notNull())
        .addColumn('published_by', 'integer')
        .addColumn('yanked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('yanked_reason', 'text')
        .addPrimaryKeyConstraint('moonbit_versions_pk', ['repo_id', 'module', 'version'])
        .execute();
    },
  },
  {
    // When a version was last yanked or unyanked: yanked.json's generatedAt is the latest of them, so
    // the document is a function of the rows (the same on every node and after a rebuild).
    name: 'moonbit_0002_yanked_at',
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('moonbit_versions').addColumn('yanked_at', millis).execute();
    },
  },
];
