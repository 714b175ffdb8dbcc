/** cargo_0003 and cargo_0004: crates published before the search service and the web UI become searchable, with their dependencies and READMEs. */
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCargoBackfill } from '../../../test/support/cargo-backfill.js';
import { tempDir } from '../../../test/support/tmp.js';
import { searchPackages } from '../../registry/search/index.js';
import { openDatabase } from '../../storage/db.js';
import { cargoMigrations } from './migrations.js';
import type { CargoTables } from './schema.js';

const dir = tempDir('larder-search-migration-');
afterAll(() => dir.remove());

describe('cargo_0003_search_entries', () => {
  it('indexes existing crates with a live version, with their newest keywords, and skips yanked-only ones', async () => {
    const file = path.join(dir.path, 'larder.db');
    const first = await openDatabase({ kind: 'sqlite', path: file }, cargoMigrations);
    const db = first.db.withTables<CargoTables>();
    const { id: repoId } = await db
      .insertInto('repos')
      .values({ name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const crate = async (name: string, max: string | null, metadata: string[]) => {
      const { id } = await db
        .insertInto('cargo_crates')
        .values({
          repo_id: repoId,
          name,
          norm_name: name.toLowerCase().replace(/-/g, '_'),
          description: `${name} does things`,
          max_version: max,
          created_at: 1,
          updated_at: 2,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const [i, m] of metadata.entries()) {
        await db
          .insertInto('cargo_versions')
          .values({
            crate_id: id,
            vers: `0.${i}.0`,
            vers_key: `0.${i}.0`,
            line: '{}',
            yanked: 0,
            cksum: 'x',
            size: 1,
            pubtime: 1,
            published_by: null,
            metadata: m,
          })
          .execute();
      }
    };
    await crate('Old-Crate', '0.1.0', [JSON.stringify({ keywords: ['stale'] }), JSON.stringify({ keywords: ['fresh', 7] })]);
    await crate('all_yanked', null, ['{}']);
    await crate('broken-meta', '0.0.0', ['not json']);
    // As if the database predates the search service: no entries, the backfill not yet run.
    await db.deleteFrom('search_entries').execute();
    await sql`delete from kysely_migration where name = 'cargo_0003_search_entries'`.execute(db);
    await first.close();

    const second = await openDatabase({ kind: 'sqlite', path: file }, cargoMigrations);
    try {
      const search = (query: string) => searchPackages(second.db, second.dialect, { query, repoIds: [repoId], limit: 10 });
      const all = await search('');
      expect(all.hits.map((h) => [h.name, h.package, h.latestVersion, h.keywords])).toEqual([
        ['broken-meta', 'broken_meta', '0.0.0', []],
        ['Old-Crate', 'old_crate', '0.1.0', ['fresh']],
      ]);
      expect((await search('fresh')).hits.map((h) => h.name)).toEqual(['Old-Crate']);
      expect((await search('stale')).total).toBe(0);
      expect((await search('old-crate')).hits[0]).toMatchObject({
        name: 'Old-Crate',
        match: 'exact',
        description: 'Old-Crate does things',
      });
    } finally {
      await second.close();
    }
  });
});

describe('cargo_0004_dependencies_readmes', () => {
  it('records what each latest version depends on, the READMEs publishes carried, and the version cargo add picks', async () => {
    await checkCargoBackfill({ kind: 'sqlite', path: path.join(dir.path, 'backfill.db') });
  });
});
