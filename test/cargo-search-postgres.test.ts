/**
 * Cargo's search API on PostgreSQL, through the shared search service: publish and yank keep the entry current in
 * their transaction, ranking and keywords work, hostile queries answer 200; the dependencies an entry records
 * (the package page's dependents) and the cargo_0004 backfill on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDep, simplePublishBody } from './support/cargo.js';
import { checkCargoBackfill } from './support/cargo-backfill.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const API = '/cargo/api/v1/crates';
let pg: TestPostgres;
let t: TestApp;

beforeAll(async () => {
  pg = await startPostgres();
  t = await openTestApp({ database: await pg.newDatabase() });
});
afterAll(async () => {
  await t?.stop();
  await pg?.stop();
});

const auth = () => ({ authorization: t.adminToken });

async function publish(name: string, vers: string, meta: Record<string, unknown> = {}): Promise<number> {
  const { body } = await simplePublishBody(name, vers, meta);
  return (await t.app.inject({ method: 'PUT', url: `${API}/new`, headers: auth(), payload: body })).statusCode;
}

const search = async (q: string, perPage = 10) => {
  const res = await t.app.inject({ method: 'GET', url: `${API}?q=${encodeURIComponent(q)}&per_page=${perPage}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { crates: Array<{ name: string; max_version: string; description: string | null }>; meta: { total: number } };
};

describe('cargo search on PostgreSQL', () => {
  it('ranks exact, prefix, text and follows publishes and yanks', async () => {
    expect(await publish('pg-search', '0.1.0', { description: 'the exact one', keywords: ['finder'] })).toBe(200);
    expect(await publish('pg-search', '0.2.0', { description: 'the exact one, again', keywords: ['finder'] })).toBe(200);
    expect(await publish('pg-search-extra', '1.0.0', { description: null })).toBe(200);
    expect(await publish('other', '1.0.0', { description: 'Helps pg-search users' })).toBe(200);

    const r = await search('PG_SEARCH');
    expect(r.crates.map((c) => c.name)).toEqual(['pg-search', 'pg-search-extra', 'other']);
    expect(r.crates[0]).toEqual({ name: 'pg-search', max_version: '0.2.0', description: 'the exact one, again' });
    expect(r.meta.total).toBe(3);
    expect((await search('finder')).crates.map((c) => c.name)).toEqual(['pg-search']);

    const yank = (v: string, how: 'yank' | 'unyank') =>
      t.app.inject({ method: how === 'yank' ? 'DELETE' : 'PUT', url: `${API}/pg-search/${v}/${how}`, headers: auth() });
    expect((await yank('0.2.0', 'yank')).statusCode).toBe(200);
    expect((await search('pg-search', 1)).crates[0].max_version).toBe('0.1.0');
    await yank('0.1.0', 'yank');
    expect((await search('finder')).meta.total).toBe(0);
    await yank('0.2.0', 'unyank');
    expect((await search('finder')).crates).toEqual([{ name: 'pg-search', max_version: '0.2.0', description: 'the exact one, again' }]);
  });

  it('leaves no entry behind when a publish fails', async () => {
    // A dependency that is not in the registry fails the publish before anything commits.
    expect(await publish('never-there', '1.0.0', { deps: [{ name: 'absent-dep', version_req: '^1' }] })).not.toBe(200);
    expect((await search('never-there')).meta.total).toBe(0);
  });

  it.each(['', '"', "'a':* & !b", 'NEAR(a b)', '-x', '(', '\\', '%00', 'x'.repeat(5000), '\u0000'])('answers %j with 200', async (q) => {
    await search(q);
  });

  it('answers invalid UTF-8 in the query with 200', async () => {
    for (const q of ['%FF%FE', '%ED%A0%80', '%C0%AF', 'a%00b', '%E2%80%AE%22']) {
      const res = await t.app.inject({ method: 'GET', url: `${API}?q=${q}&per_page=3` });
      expect(res.statusCode, `${q}: ${res.body}`).toBe(200);
    }
  });
});

describe('dependencies and the backfill on PostgreSQL', () => {
  it('records what a publish depends on, so the package page lists its dependents', async () => {
    expect(await publish('pg-base', '1.0.0')).toBe(200);
    expect(await publish('pg-user', '1.0.0', { deps: [newDep('pg-base', '^1'), newDep('pg-search', '^0.1', { kind: 'dev' })] })).toBe(200);
    const page = await t.app.inject({ method: 'GET', url: '/-/packages/cargo/pg_base' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Depended on by (1)');
    expect(page.body).toContain('href="/-/packages/cargo/pg_user"');
    // A dev-dependency does not count.
    expect((await t.app.inject({ method: 'GET', url: '/-/packages/cargo/pg_search' })).body).toContain('No package here depends on it.');
  });

  it('runs cargo_0004 over crates stored before it', async () => {
    await checkCargoBackfill({ kind: 'postgres', url: await pg.newDatabase() });
  });
});
