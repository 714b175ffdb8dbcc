/** bazel_0004_search_entries: modules stored before the search service existed become searchable, on SQLite and PostgreSQL. */
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { tempDir } from '../../../test/support/tmp.js';
import { dependentsOf, searchPackages } from '../../registry/search/index.js';
import { strongEtag } from '../../core/hash.js';
import { openDatabase, type DatabaseTarget } from '../../storage/db.js';
import type { Database } from '../../storage/schema.js';
import { bazelMigrations } from './migrations.js';
import type { BazelTables } from './schema.js';

const dir = tempDir('larder-bazel-search-migration-');
let pg: TestPostgres | undefined;
afterAll(async () => {
  await pg?.stop();
  dir.remove();
});

const metadata = (versions: string[], yanked: Record<string, string> = {}, extra: object = {}) =>
  JSON.stringify({ homepage: '', maintainers: [], repository: [], versions, yanked_versions: yanked, ...extra });

/** What a hosted repo held before 0004: version rows and registry files, no search entries. */
async function fill(db: Kysely<Database & BazelTables>): Promise<number> {
  const { id: repoId } = await db
    .insertInto('repos')
    .values({ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public', created_at: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  const files: Record<string, string> = {
    'modules/lib/metadata.json': metadata(['1.0', '2.0'], { '2.0': 'broken' }, { maintainers: [{ name: 'Lin' }] }),
    'modules/lib/1.0/MODULE.bazel':
      'module(name = "lib", version = "1.0")\nbazel_dep(name = "base", version = "1.0")\nbazel_dep(name = "tool", version = "1", dev_dependency = True)\n',
    'modules/lib/2.0/MODULE.bazel': 'module(name = "lib", version = "2.0")\nbazel_dep(name = "other", version = "1.0")\n',
    'modules/base/metadata.json': metadata(['1.0']),
    'modules/base/1.0/MODULE.bazel': 'module(name = "base", version = "1.0")\n',
    'modules/gone/metadata.json': metadata(['1.0'], { '1.0': 'withdrawn' }),
    'modules/gone/1.0/MODULE.bazel': 'module(name = "gone", version = "1.0")\n',
  };
  for (const [p, text] of Object.entries(files)) {
    const body = Buffer.from(text);
    await db
      .insertInto('index_docs')
      .values({ repo_id: repoId, path: p, body, etag: strongEtag(body), updated_at: 1 })
      .execute();
  }
  for (const [module, version, at] of [
    ['lib', '1.0', 10],
    ['lib', '2.0', 20],
    ['base', '1.0', 5],
    ['gone', '1.0', 7],
  ] as const) {
    await db.insertInto('bazel_versions').values({ repo_id: repoId, module, version, created_at: at }).execute();
  }
  return repoId;
}

async function backfilled(target: DatabaseTarget): Promise<void> {
  const first = await openDatabase(target, bazelMigrations);
  const db = first.db.withTables<BazelTables>() as unknown as Kysely<Database & BazelTables>;
  const repoId = await fill(db);
  // As if the database predates the search service: no entries, the backfill not yet run.
  await db.deleteFrom('search_entries').execute();
  await sql`delete from kysely_migration where name = 'bazel_0004_search_entries'`.execute(db);
  await first.close();

  const second = await openDatabase(target, bazelMigrations);
  try {
    const all = await searchPackages(second.db, second.dialect, { query: '', repoIds: [repoId], limit: 10 });
    expect(all.hits.map((h) => [h.name, h.package, h.latestVersion, h.updatedAt, h.description])).toEqual([
      ['base', 'base', '1.0', 5, null],
      ['lib', 'lib', '1.0', 20, 'maintained by Lin'],
    ]);
    const dependents = await dependentsOf(second.db, { name: 'base', repoIds: [repoId], limit: 10 });
    expect(dependents.map((d) => d.name)).toEqual(['lib']);
    // The yanked 2.0's dependency and 1.0's dev dependency are not counted.
    for (const name of ['other', 'tool']) expect(await dependentsOf(second.db, { name, repoIds: [repoId], limit: 10 })).toEqual([]);
    expect(
      (await searchPackages(second.db, second.dialect, { query: 'Lin', repoIds: [repoId], limit: 10 })).hits.map((h) => h.name),
    ).toEqual(['lib']);
  } finally {
    await second.close();
  }
}

describe('bazel_0004_search_entries', () => {
  it('indexes stored modules with a version left to install, with the dependencies of the latest (SQLite)', async () => {
    await backfilled({ kind: 'sqlite', path: path.join(dir.path, 'larder.db') });
  });

  it('does the same on PostgreSQL', async () => {
    pg = await startPostgres();
    await backfilled({ kind: 'postgres', url: await pg.newDatabase() });
  }, 120_000);
});
