import { sql, type Kysely } from 'kysely';
import { nameKey } from '../../registry/search/query.js';
import type { DialectMigration } from '../../storage/db.js';
import { millis } from '../../storage/migrations.js';
import { parseYanked } from './module-versions.js';
import { moduleOfIndexPath, YANKED_PATH } from './names.js';
import { moduleSearchEntry } from './search.js';

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
  {
    // The shared search service (registry/search, core 0007/0008) indexes modules stored before it existed: every
    // module file of a hosted repo's index with a version that is not yanked (yanked.json), as a publish would now.
    // Proxies index what they fetch (ProxyParts.searchEntry); groups hold nothing of their own.
    name: 'moonbit_0003_search_entries',
    async up(db: Kysely<unknown>) {
      const repos = await sql<{ id: number }>`select id from repos where format = 'moonbit' and kind = 'hosted'`.execute(db);
      for (const { id } of repos.rows) {
        const yankedDoc = await sql<{ body: Uint8Array }>`
          select body from index_docs where repo_id = ${id} and path = ${YANKED_PATH}`.execute(db);
        const yanked = parseYanked(yankedDoc.rows[0]?.body);
        const docs = await sql<{ path: string; body: Uint8Array; updated_at: number | string }>`
          select path, body, updated_at from index_docs where repo_id = ${id} and path like 'user/%.index'`.execute(db);
        for (const doc of docs.rows) {
          const module = moduleOfIndexPath(doc.path);
          const entry = module ? moduleSearchEntry(module, doc.body, yanked) : null;
          if (!entry) continue;
          await sql`insert into search_entries (repo_id, format, package, name, name_key, description, keywords, latest_version, updated_at)
            values (${id}, 'moonbit', ${entry.package}, ${entry.name}, ${nameKey(entry.name)}, ${entry.description ?? null},
              ${(entry.keywords ?? []).join(' ')}, ${entry.latestVersion}, ${Number(doc.updated_at)})
            on conflict (repo_id, package) do nothing`.execute(db);
          for (const key of new Set((entry.dependencies ?? []).map(nameKey)))
            if (key !== '')
              await sql`insert into search_dependencies (repo_id, package, dependency_key) values (${id}, ${entry.package}, ${key})
                on conflict (repo_id, package, dependency_key) do nothing`.execute(db);
        }
      }
    },
  },
];
