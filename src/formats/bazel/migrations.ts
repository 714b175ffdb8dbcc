import { sql, type Kysely } from 'kysely';
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
    // Proxy documents stored before 0009 carry `immutable = 0`; a version file (modules/<m>/<v>/…) never changes
    // (proxy.ts docLifetime), is never revalidated, and so must not count as stale on the proxy statistics.
    name: 'bazel_0004_proxy_immutable',
    async up(db: Kysely<unknown>) {
      await sql`update proxy_docs set immutable = 1
        where path like 'modules/%/%/%' and repo_id in (select id from repos where format = 'bazel')`.execute(db);
    },
  },
];
