/**
 * julia_0006_search_entries on SQLite and PostgreSQL: registries stored before the search service (here the real
 * HolyLab registry as index documents, one package changed to have only yanked versions) become searchable, with
 * the names each latest version depends on.
 */
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { HOLYLAB, HOLYLAB_TREE } from '../../../test/support/julia-upstream.js';
import { tempDir } from '../../../test/support/tmp.js';
import { strongEtag } from '../../core/hash.js';
import { dependentsOf, searchPackages } from '../../registry/search/index.js';
import { openDatabase, type DatabaseTarget } from '../../storage/db.js';
import type { Database } from '../../storage/schema.js';
import { registryDocPath } from './ids.js';
import { juliaMigrations } from './migrations.js';
import type { JuliaTables } from './schema.js';
import { disposeTree, treeFileData } from './spool.js';
import { readDirTree } from './tree-hash.js';

const TILETREES = 'cd6f60fb-236b-5882-ad4f-250d5433a9a7';
const ISVD = '0de75c66-c0d4-11e8-3de9-d1632eed9267';
const dir = tempDir('larder-julia-search-migration-');
let pg: TestPostgres;
let files: Map<string, Buffer>;

beforeAll(async () => {
  pg = await startPostgres();
  const tree = await readDirTree(path.resolve('../shared/fixtures/julia/HolyLabRegistry'));
  files = new Map();
  for (const [rel, f] of tree) files.set(rel, await treeFileData(f));
  await disposeTree(tree);
  // ISVD: every version yanked, so nothing is left to install.
  const versions = files.get('I/ISVD/Versions.toml')!.toString('utf8');
  files.set('I/ISVD/Versions.toml', Buffer.from(versions.replace(/(git-tree-sha1 = "[0-9a-f]{40}")\n/g, '$1\nyanked = true\n')));
}, 120_000);
afterAll(async () => {
  await pg?.stop();
  dir.remove();
});

/** A database as an older Larder left it: the registry's documents and rows, no search entries, the backfill not yet run. */
async function olderDatabase(target: DatabaseTarget): Promise<number> {
  const first = await openDatabase(target, juliaMigrations);
  try {
    const db = first.db.withTables<JuliaTables>() as Kysely<Database & JuliaTables>;
    const { id: repoId } = await db
      .insertInto('repos')
      .values({ name: 'jl', format: 'julia', kind: 'hosted', visibility: 'public', created_at: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('julia_registries')
      .values({ repo_id: repoId, uuid: HOLYLAB, name: 'HolyLabRegistry', tree_hash: HOLYLAB_TREE, updated_at: 1000, depends_on: '[]' })
      .execute();
    const docs = [...files].map(([rel, body]) => ({
      repo_id: repoId,
      path: registryDocPath(HOLYLAB, rel),
      body,
      etag: strongEtag(body),
      updated_at: 1,
    }));
    for (let i = 0; i < docs.length; i += 100)
      await db
        .insertInto('index_docs')
        .values(docs.slice(i, i + 100))
        .execute();
    // TileTrees was registered here (a package tarball row): its entry takes that time.
    await db
      .insertInto('julia_tarballs')
      .values({
        repo_id: repoId,
        kind: 'package',
        uuid: TILETREES,
        tree_hash: 'a'.repeat(40),
        sha256: 'b'.repeat(64),
        size: 1,
        created_at: 5000,
      })
      .execute();
    await db.deleteFrom('search_dependencies').execute();
    await db.deleteFrom('search_entries').execute();
    await sql`delete from kysely_migration where name = 'julia_0006_search_entries'`.execute(db);
    return repoId;
  } finally {
    await first.close();
  }
}

describe.each([
  ['SQLite', async (): Promise<DatabaseTarget> => ({ kind: 'sqlite', path: path.join(dir.path, 'larder.db') })],
  ['PostgreSQL', async (): Promise<DatabaseTarget> => ({ kind: 'postgres', url: await pg.newDatabase() })],
])('julia_0006_search_entries on %s', (_name, target) => {
  it('indexes every package with an installable version, with its latest version and dependencies', async () => {
    const where = await target();
    const repoId = await olderDatabase(where);
    const second = await openDatabase(where, juliaMigrations);
    try {
      const search = (query: string) => searchPackages(second.db, second.dialect, { query, repoIds: [repoId], limit: 200 });
      const all = await search('');
      // 76 packages, less ISVD whose versions are all yanked.
      expect(all.total).toBe(75);
      expect(all.hits.some((h) => h.package === ISVD)).toBe(false);
      expect(all.hits.every((h) => h.format === 'julia' && h.description === null && h.keywords.length === 0)).toBe(true);
      const tiles = (await search('TileTrees')).hits[0];
      expect(tiles).toMatchObject({ package: TILETREES, name: 'TileTrees', latestVersion: '2.1.0', match: 'exact', updatedAt: 5000 });
      expect((await search('BoxTrees')).hits[0]?.updatedAt).toBe(1000);
      // TileTrees 2.1.0 depends on BoxTrees (Deps.toml [1-2]); weak dependencies do not count.
      const dependents = (name: string) =>
        dependentsOf(second.db, { name, repoIds: [repoId], limit: 100 }).then((d) => d.map((e) => e.name));
      expect(await dependents('BoxTrees')).toContain('TileTrees');
      expect(await dependents('ShotNoise')).not.toContain('TileTrees');
    } finally {
      await second.close();
    }
  });
});
