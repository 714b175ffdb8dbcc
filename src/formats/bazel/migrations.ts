import { sql, type Kysely } from 'kysely';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';
import type { Database } from '../../storage/schema.js';
import { upsertSearchEntry } from '../../registry/search/index.js';
import { moduleSearchEntry } from './search-entry.js';

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
  {
    // Modules published before packages had owners: their first publisher (from the audit log) owns them.
    name: 'bazel_0003_owners',
    async up(db: Kysely<unknown>) {
      const { rows } = await sql<{ repo_id: number; user_id: number; subject: string; at: number }>`
        select repo_id, user_id, subject, at from audit_log where action = 'bazel.publish' and user_id is not null and repo_id is not null order by id`.execute(
        db,
      );
      const seen = new Set<string>();
      for (const r of rows) {
        const module = r.subject.slice(0, r.subject.lastIndexOf('@'));
        const key = `${r.repo_id}\n${module}`;
        if (!module || seen.has(key)) continue;
        seen.add(key);
        await sql`insert into package_owners (repo_id, package, user_id, created_at) values (${r.repo_id}, ${module}, ${r.user_id}, ${Number(r.at)})`.execute(
          db,
        );
      }
    },
  },
  {
    // The shared search service (registry/search, core 0007/0008) indexes modules stored before it existed: each
    // module with versions here and a version left to install, from its stored metadata.json and latest MODULE.bazel.
    name: 'bazel_0004_search_entries',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      const { rows } = await sql<{ repo_id: number; module: string; at: number }>`
        select repo_id, module, max(created_at) as at from bazel_versions group by repo_id, module order by repo_id, module`.execute(db);
      for (const r of rows) {
        const read = async (path: string) => {
          const doc = await sql<{ body: Uint8Array }>`
            select body from index_docs where repo_id = ${r.repo_id} and path = ${path}`.execute(db);
          return doc.rows[0] ? Buffer.from(doc.rows[0].body) : null;
        };
        const entry = await moduleSearchEntry(r.module, read);
        if (!entry) continue;
        const repoId = Number(r.repo_id);
        await upsertSearchEntry(db as Kysely<Database>, dialect, { ...entry, repoId, format: 'bazel', updatedAt: Number(r.at) });
      }
    },
  },
  {
    // Proxy documents stored before 0009 carry `immutable = 0`; a version file (modules/<m>/<v>/…) never changes
    // (proxy.ts docLifetime), is never revalidated, and so must not count as stale on the proxy statistics.
    name: 'bazel_0005_proxy_immutable',
    async up(db: Kysely<unknown>) {
      await sql`update proxy_docs set immutable = 1
        where path like 'modules/%/%/%' and repo_id in (select id from repos where format = 'bazel')`.execute(db);
    },
  },
];
