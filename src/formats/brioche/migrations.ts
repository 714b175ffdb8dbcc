import type { Kysely } from 'kysely';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';

/** Brioche's tables: cache objects of hosted repos, tags with their history, and the registry password. */
export const briocheMigrations: DialectMigration[] = [
  {
    name: 'brioche_0001_cache_tags',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      // One row per cache object a hosted repo holds: its key names it, its sha256 finds the blob.
      await db.schema
        .createTable('brioche_objects')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('size', millis, (c) => c.notNull())
        .addColumn('created_at', millis, (c) => c.notNull())
        .addColumn('created_by', 'integer')
        .addPrimaryKeyConstraint('brioche_objects_pk', ['repo_id', 'key'])
        .execute();
      // Every tag value ever set: the current one has current = 1 (tags are mutable pointers with history, §0.5).
      await withId(db.schema.createTable('brioche_tags'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('project_hash', 'text', (c) => c.notNull())
        .addColumn('previous_hash', 'text')
        .addColumn('current', 'integer', (c) => c.notNull())
        .addColumn('set_at', millis, (c) => c.notNull())
        .addColumn('set_by', 'integer')
        .execute();
      await db.schema.createIndex('brioche_tags_by_name').on('brioche_tags').columns(['repo_id', 'project', 'tag', 'current']).execute();
      // The registry's own password (`admin:<password>` as brioche sends it), an argon2id PHC string.
      await db.schema
        .createTable('brioche_settings')
        .addColumn('repo_id', 'integer', (c) => c.notNull().primaryKey().references('repos.id'))
        .addColumn('password_hash', 'text')
        .addColumn('updated_at', millis, (c) => c.notNull())
        .execute();
    },
  },
];
