import { sql, type Kysely } from 'kysely';
import type { Dialect, DialectMigration } from '../../storage/db.js';
import { millis, withId } from '../../storage/migrations.js';
import { nameKey } from '../../registry/search/query.js';
import { registryDocPath } from './ids.js';
import { packageAcross, registryIndex, searchFieldsOf, type RegistryReader } from './package-info.js';

export const juliaMigrations: DialectMigration[] = [
  {
    name: 'julia_0001_registries',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('julia_registries'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('uuid', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('tree_hash', 'text', (c) => c.notNull())
        .addColumn('updated_at', millis, (c) => c.notNull())
        .addUniqueConstraint('julia_registries_uuid', ['repo_id', 'uuid'])
        .execute();
      await db.schema
        .createTable('julia_tarballs')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('uuid', 'text', (c) => c.notNull())
        .addColumn('tree_hash', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('size', millis, (c) => c.notNull())
        .addColumn('created_at', millis, (c) => c.notNull())
        .addPrimaryKeyConstraint('julia_tarballs_pk', ['repo_id', 'kind', 'uuid', 'tree_hash'])
        .execute();
    },
  },
  {
    name: 'julia_0003_registry_dependencies',
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('julia_registries')
        .addColumn('depends_on', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
  },
  {
    name: 'julia_0002_commits',
    async up(db: Kysely<unknown>, dialect: Dialect) {
      await withId(db.schema.createTable('julia_commits'), dialect)
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('registry_uuid', 'text', (c) => c.notNull())
        .addColumn('tree_hash', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('at', millis, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('julia_commits_registry').on('julia_commits').columns(['repo_id', 'registry_uuid', 'id']).execute();
    },
  },
  {
    // Packages registered before packages had owners: the first registrant (audit log) owns the package's UUID.
    name: 'julia_0004_owners',
    async up(db: Kysely<unknown>) {
      const { rows } = await sql<{ repo_id: number; user_id: number; detail: string | null; at: number }>`
        select repo_id, user_id, detail, at from audit_log where action = 'julia.register' and user_id is not null and repo_id is not null order by id`.execute(
        db,
      );
      const seen = new Set<string>();
      for (const r of rows) {
        const tree = (JSON.parse(r.detail ?? '{}') as { tree?: string }).tree;
        if (!tree) continue;
        const pkg = await sql<{
          uuid: string;
        }>`select uuid from julia_tarballs where repo_id = ${r.repo_id} and kind = 'package' and tree_hash = ${tree}`.execute(db);
        const uuid = pkg.rows[0]?.uuid;
        if (!uuid || seen.has(`${r.repo_id}\n${uuid}`)) continue;
        seen.add(`${r.repo_id}\n${uuid}`);
        await sql`insert into package_owners (repo_id, package, user_id, created_at) values (${r.repo_id}, ${uuid}, ${r.user_id}, ${Number(r.at)})`.execute(
          db,
        );
      }
    },
  },
  {
    // The git view's commits move to the shared git_history (history = registry UUID), in their order:
    // the commit ids are a function of (tree, message, time, order), so every served id stays the same.
    name: 'julia_0005_git_history',
    async up(db: Kysely<unknown>) {
      for (let after = 0; ;) {
        const { rows } = await sql<{ id: number; repo_id: number; registry_uuid: string; tree_hash: string; message: string; at: number }>`
          select id, repo_id, registry_uuid, tree_hash, message, at from julia_commits where id > ${after} order by id limit 500`.execute(
          db,
        );
        if (!rows.length) break;
        for (const r of rows)
          await sql`insert into git_history (repo_id, history, tree, message, at) values (${r.repo_id}, ${r.registry_uuid}, ${r.tree_hash}, ${r.message}, ${Number(r.at)})`.execute(
            db,
          );
        after = Number(rows[rows.length - 1].id);
      }
      await db.schema.dropTable('julia_commits').execute();
    },
  },
  {
    // Packages registered or imported before the search service: every package with an installable version gets
    // its entry (and the names its latest version depends on), read from the registry documents.
    name: 'julia_0006_search_entries',
    up: backfillSearchEntries,
  },
  {
    name: 'julia_0007_yank_reasons',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('julia_yank_reasons')
        .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id'))
        .addColumn('registry_uuid', 'text', (c) => c.notNull())
        .addColumn('package_uuid', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('yanked_at', millis, (c) => c.notNull())
        .addPrimaryKeyConstraint('julia_yank_reasons_pk', ['repo_id', 'registry_uuid', 'package_uuid', 'version'])
        .execute();
    },
  },
  {
    name: 'julia_0008_registry_checks',
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('julia_registry_checks')
        .addColumn('repo_id', 'integer', (c) => c.primaryKey().references('repos.id'))
        .addColumn('registries_etag', 'text', (c) => c.notNull())
        .addColumn('conflicts', 'text', (c) => c.notNull())
        .execute();
    },
  },
];

/** julia_0006: the search entries of every hosted Julia package, from `registry/{uuid}/…` in index_docs (SQLite and PostgreSQL). */
async function backfillSearchEntries(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ repo_id: number; uuid: string; updated_at: number }>`
    select repo_id, uuid, updated_at from julia_registries order by repo_id, uuid`.execute(db);
  const byRepo = new Map<number, Array<{ uuid: string; updatedAt: number }>>();
  for (const r of rows)
    byRepo.set(Number(r.repo_id), [...(byRepo.get(Number(r.repo_id)) ?? []), { uuid: r.uuid, updatedAt: Number(r.updated_at) }]);
  for (const [repoId, regs] of byRepo) {
    const readers: RegistryReader[] = [];
    for (const reg of regs) {
      const file = async (rel: string) => {
        const doc = await sql<{ body: Uint8Array }>`
          select body from index_docs where repo_id = ${repoId} and path = ${registryDocPath(reg.uuid, rel)}`.execute(db);
        return doc.rows[0] ? Buffer.from(doc.rows[0].body) : null;
      };
      const index = registryIndex(await file('Registry.toml'));
      if (index) readers.push({ ...index, file });
    }
    // When each package was last registered here, where the rows say (imported packages have no tarball row).
    const registered = await sql<{ uuid: string; at: number }>`
      select uuid, max(created_at) as at from julia_tarballs where repo_id = ${repoId} and kind = 'package' group by uuid`.execute(db);
    const lastRegistered = new Map(registered.rows.map((r) => [r.uuid, Number(r.at)]));
    const fallback = Math.max(...regs.map((r) => r.updatedAt));
    for (const uuid of new Set(readers.flatMap((r) => [...r.packages.keys()]))) {
      const pkg = await packageAcross(readers, uuid);
      const fields = pkg && searchFieldsOf(pkg);
      if (!fields) continue;
      await sql`insert into search_entries (repo_id, format, package, name, name_key, description, keywords, latest_version, updated_at)
        values (${repoId}, 'julia', ${fields.package}, ${fields.name}, ${nameKey(fields.name)}, ${null}, ${''}, ${fields.latestVersion},
          ${lastRegistered.get(uuid) ?? fallback})
        on conflict (repo_id, package) do nothing`.execute(db);
      for (const key of new Set(fields.dependencies.map(nameKey).filter((k) => k !== '')))
        await sql`insert into search_dependencies (repo_id, package, dependency_key) values (${repoId}, ${fields.package}, ${key})
          on conflict do nothing`.execute(db);
    }
  }
}
