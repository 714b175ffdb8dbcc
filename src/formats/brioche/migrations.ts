import { sql, type Kysely } from 'kysely';
import { nameKey } from '../../registry/search/query.js';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';
import { headOf, type CurrentTag } from './search.js';

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
  {
    // Projects tagged before the search service existed become searchable: name and version from the tag rows.
    // Descriptions and dependencies live in the projects' artifacts (blobs a migration does not read); the
    // project's next tag write fills them in.
    name: 'brioche_0002_search_entries',
    async up(db: Kysely<unknown>) {
      const rows = await sql<{ repo_id: number; project: string; tag: string; project_hash: string; set_at: number }>`
        select repo_id, project, tag, project_hash, set_at from brioche_tags where current = 1 order by repo_id, project`.execute(db);
      const projects = new Map<string, { repoId: number; project: string; tags: CurrentTag[] }>();
      for (const r of rows.rows) {
        const key = `${r.repo_id}\0${r.project}`;
        if (!projects.has(key)) projects.set(key, { repoId: Number(r.repo_id), project: r.project, tags: [] });
        projects.get(key)!.tags.push({ tag: r.tag, projectHash: r.project_hash, setAt: Number(r.set_at) });
      }
      for (const { repoId, project, tags } of projects.values()) {
        const listed = headOf(tags)!;
        const updatedAt = Math.max(...tags.map((t) => t.setAt ?? 0));
        await sql`insert into search_entries (repo_id, format, package, name, name_key, description, keywords, latest_version, updated_at)
          values (${repoId}, 'brioche', ${project}, ${project}, ${nameKey(project)}, ${null}, '', ${listed.version}, ${updatedAt})
          on conflict (repo_id, package) do nothing`.execute(db);
      }
    },
  },
];
