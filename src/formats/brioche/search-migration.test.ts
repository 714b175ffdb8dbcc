/** brioche_0002_search_entries on SQLite and PostgreSQL: projects tagged before the search service existed become searchable. */
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { tempDir } from '../../../test/support/tmp.js';
import { searchPackages } from '../../registry/search/index.js';
import { openDatabase, type DatabaseTarget } from '../../storage/db.js';
import { briocheMigrations } from './migrations.js';
import type { BriocheTables } from './store.js';

const dir = tempDir('larder-brioche-search-migration-');
let pg: TestPostgres | undefined;
afterAll(async () => {
  await pg?.stop();
  dir.remove();
});

const H = (n: number) => String(n).repeat(64).slice(0, 64);

const targets: Array<[string, () => Promise<DatabaseTarget>]> = [
  ['SQLite', async () => ({ kind: 'sqlite', path: path.join(dir.path, 'larder.db') })],
  ['PostgreSQL', async () => ({ kind: 'postgres', url: await (pg ??= await startPostgres()).newDatabase() })],
];

describe.each(targets)('brioche_0002_search_entries on %s', (_name, target) => {
  it('indexes every tagged project under its latest tag’s version, from current rows only', async () => {
    const at = await target();
    const first = await openDatabase(at, briocheMigrations);
    const db = first.db.withTables<BriocheTables>();
    const repo = async (name: string) =>
      (
        await db
          .insertInto('repos')
          .values({ name, format: 'brioche', kind: 'hosted', visibility: 'public', created_at: 0 })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const main = await repo('main');
    const other = await repo('other');
    const tag = (repo_id: number, project: string, tag: string, hash: number, set_at: number, current = 1) =>
      db
        .insertInto('brioche_tags')
        .values({ repo_id, project, tag, project_hash: H(hash), previous_hash: null, current, set_at, set_by: null })
        .execute();
    // jq: published twice; the old `latest` row is history.
    await tag(main, 'jq', 'latest', 1, 10, 0);
    await tag(main, 'jq', '1.7.0', 1, 10);
    await tag(main, 'jq', 'latest', 2, 20);
    await tag(main, 'jq', '1.7.1', 2, 20);
    // A project with only a version tag, and one tagged `latest` alone.
    await tag(main, 'Only-Version', '0.1.0', 3, 30);
    await tag(other, 'fd', 'latest', 4, 40);
    // As if the database predates the search service: no entries, the backfill not yet run.
    await db.deleteFrom('search_entries').execute();
    await sql`delete from kysely_migration where name = 'brioche_0002_search_entries'`.execute(db);
    await first.close();

    const second = await openDatabase(at, briocheMigrations);
    try {
      const search = (query: string) => searchPackages(second.db, second.dialect, { query, repoIds: [main, other], limit: 10 });
      expect((await search('')).hits.map((h) => [h.repoId, h.format, h.package, h.name, h.latestVersion, h.updatedAt])).toEqual([
        [other, 'brioche', 'fd', 'fd', 'latest', 40],
        [main, 'brioche', 'jq', 'jq', '1.7.1', 20],
        [main, 'brioche', 'Only-Version', 'Only-Version', '0.1.0', 30],
      ]);
      expect((await search('only_version')).hits[0]).toMatchObject({ name: 'Only-Version', match: 'exact' });
    } finally {
      await second.close();
    }
  });
});
