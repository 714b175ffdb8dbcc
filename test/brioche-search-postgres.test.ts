/**
 * Brioche's search entries and package pages on PostgreSQL: tag writes keep the entry current in their transaction
 * (the advisory-locked path), and the page finds a project's tags among the repo's documents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATEST } from '../src/formats/brioche/search.js';
import { searchPackages } from '../src/registry/search/index.js';
import { buildProject, projectBri, putProjectObjects } from './support/brioche-project.js';
import { basic, postTags } from './support/brioche-registry.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

let pg: TestPostgres;
let t: TestApp;

beforeAll(async () => {
  pg = await startPostgres();
  t = await openTestApp({
    database: await pg.newDatabase(),
    repos: [{ name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public' }],
  });
});
afterAll(async () => {
  await t?.stop();
  await pg?.stop();
});

describe('Brioche search and pages on PostgreSQL', () => {
  it('indexes a tagged project, follows its latest tag, and lists its tags on its page', async () => {
    const search = (query: string) =>
      searchPackages(t.registry.db, t.registry.dialect, { query, repoIds: [t.registry.repos.get('bri')!.id], limit: 5 });
    for (const version of ['0.1.0', '0.2.0']) {
      const p = await buildProject({ 'project.bri': projectBri({ name: 'pg_tool', version, description: `pg tool ${version}` }, ['std']) });
      await putProjectObjects(t.registry, 'bri', p);
      const tags = [LATEST, version].map((tag) => ({ projectName: 'pg_tool', tag, projectHash: p.projectHash }));
      const res = await postTags(t.app, 'bri', tags, basic(t.adminToken));
      expect(res.statusCode, res.body).toBe(200);
      expect((await search('pg_tool')).hits).toMatchObject([
        { name: 'pg_tool', latestVersion: version, description: `pg tool ${version}` },
      ]);
    }
    const page = await t.app.inject({ method: 'GET', url: '/-/packages/bri/pg_tool' });
    expect(page.statusCode).toBe(200);
    const listed = [...page.body.matchAll(/href="\/-\/packages\/bri\/pg_tool\?version=([^"]+)"/g)].map((m) => m[1]);
    expect(listed).toEqual(['latest', '0.2.0', '0.1.0']);
    expect(page.body).toContain('<p>pg tool 0.2.0</p>');
    expect(page.body).toContain('<li>std <code>*</code>');
  });
});
