/** moonbit_0003_search_entries: modules stored before the search service existed become searchable. */
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.js';
import { dependentsOf, searchPackages } from '../../registry/search/index.js';
import { openDatabase } from '../../storage/db.js';
import { moonbitMigrations } from './migrations.js';

const dir = tempDir('larder-moonbit-search-migration-');
afterAll(() => dir.remove());

const line = (o: object) => `${JSON.stringify({ checksum: 'a'.repeat(64), ...o })}\n`;

describe('moonbit_0003_search_entries', () => {
  it('indexes the modules of hosted repos from their index files and yanked.json, and nothing of a proxy', async () => {
    const file = path.join(dir.path, 'larder.db');
    const first = await openDatabase({ kind: 'sqlite', path: file }, moonbitMigrations);
    const db = first.db;
    const repo = async (name: string, kind: string) =>
      (
        await db
          .insertInto('repos')
          .values({ name, format: 'moonbit', kind, visibility: 'public', created_at: 0 })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const hosted = await repo('moon', 'hosted');
    const proxy = await repo('mooncakes', 'proxy');
    const doc = (repoId: number, p: string, body: string, updatedAt = 5) =>
      db
        .insertInto('index_docs')
        .values({ repo_id: repoId, path: p, body: Buffer.from(body), etag: `"${p}"`, updated_at: updatedAt })
        .execute();
    await doc(
      hosted,
      'user/alice/json.index',
      line({ name: 'alice/json', version: '0.1.0', description: 'old', keywords: ['stale'] }) +
        line({ name: 'alice/json', version: '0.2.0', description: 'JSON', keywords: ['json'], deps: { 'alice/utf8': '0.1.0' } }) +
        line({ name: 'alice/json', version: '0.3.0', description: 'yanked one' }),
      1234,
    );
    await doc(hosted, 'user/alice/utf8.index', line({ name: 'alice/utf8', version: '0.1.0' }));
    await doc(hosted, 'user/alice/gone.index', line({ name: 'alice/gone', version: '1.0.0' }));
    await doc(hosted, 'user/alice/broken.index', '{not json\n');
    await doc(
      hosted,
      'yanked.json',
      JSON.stringify({
        yankedPackages: [
          { name: 'alice/json', version: '0.3.0', reason: 'bad' },
          { name: 'alice/gone', version: '1.0.0', reason: '' },
        ],
      }),
    );
    await doc(proxy, 'user/bob/tool.index', line({ name: 'bob/tool', version: '1.0.0' }));
    // As if the database predates the search service: no entries, the backfill not yet run.
    await db.deleteFrom('search_dependencies').execute();
    await db.deleteFrom('search_entries').execute();
    await sql`delete from kysely_migration where name = 'moonbit_0003_search_entries'`.execute(db);
    await first.close();

    const second = await openDatabase({ kind: 'sqlite', path: file }, moonbitMigrations);
    try {
      const search = (query: string) => searchPackages(second.db, second.dialect, { query, repoIds: [hosted, proxy], limit: 10 });
      const all = await search('');
      expect(all.hits.map((h) => [h.repoId, h.package, h.latestVersion, h.description, h.keywords, h.updatedAt])).toEqual([
        [hosted, 'alice/json', '0.2.0', 'JSON', ['json'], 1234],
        [hosted, 'alice/utf8', '0.1.0', null, [], 5],
      ]);
      expect((await search('alice/json')).hits[0]).toMatchObject({ package: 'alice/json', match: 'exact' });
      expect((await search('json')).hits.map((h) => h.package)).toEqual(['alice/json']);
      expect((await search('stale')).total).toBe(0);
      const dependents = await dependentsOf(second.db, { name: 'alice/utf8', repoIds: [hosted], limit: 10 });
      expect(dependents.map((d) => d.package)).toEqual(['alice/json']);
    } finally {
      await second.close();
    }
  });
});
