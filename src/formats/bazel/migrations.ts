import type { Kysely } from 'kysely';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';

export const bazelMigrations: DialectMigration[] = [
  {
    name: 'bazel_0001_versions',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('bazel_versions'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('module', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('created_at', millis, (c) => c.notNull())
        .addUniqueConstraint('bazel_versions_key', ['repo_id', 'module', 'version'])
        .execute();
    },
  },
  {
    name: 'bazel_0002_archives',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('bazel_archives')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('module', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('size', millis, (c) => c.notNull())
        .addColumn('created_at', millis, (c) => c.notNull())
        .addPrimaryKeyConstraint('bazel_archives_pk', ['repo_id', 'module', 'version', 'file_name'])
        .execute();
    },
  },
];
