/**
 * Proxy statistics over a Bazel proxy of a BCR-shaped fake upstream: what it holds (documents, stale ones by each
 * document's lifetime, artifacts and their bytes) and the upstream's health as the latest recorded outcome.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sri } from '../core/sri.js';
import { bazelMigrations } from '../formats/bazel/migrations.js';
import { tarGz } from '../../test/support/archives.js';
import { startFakeUpstream, type FakeUpstream } from '../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { proxyStats } from './proxy-stats.js';

const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const TTL = 60_000;

let up: FakeUpstream;
let t: TestApp;
let archive: Buffer;

beforeAll(async () => {
  up = await startFakeUpstream();
  archive = await tarGz([{ name: 'demo-1.0/MODULE.bazel', body: 'module(name = "demo", version = "1.0")\n' }]);
  for (const rel of ['modules/ahab/metadata.json', 'modules/ahab/0.1.0/MODULE.bazel']) {
    up.set(`/${rel}`, { body: fs.readFileSync(path.join(FIXTURE, rel)) });
  }
  up.set('/modules/demo/1.0/source.json', {
    body: JSON.stringify({ url: `${up.url}/dl/demo-1.0.tar.gz`, integrity: sri(archive), strip_prefix: 'demo-1.0' }),
  });
  up.set('/dl/demo-1.0.tar.gz', { body: archive });
  t = await openTestApp({
    repos: [
      { name: 'bcr', format: 'bazel', kind: 'proxy', visibility: 'public', upstream: up.url, ttl: TTL },
      { name: 'bcr-offline', format: 'bazel', kind: 'proxy', visibility: 'public', upstream: up.url, offline: true },
      { name: 'own', format: 'bazel', kind: 'hosted', visibility: 'public' },
    ],
    outbound: { retries: 0, allowPrivate: ['127.0.0.1'] },
  });
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

const get = (url: string) => t.app.inject({ method: 'GET', url });
const repo = (name: string) => t.registry.repos.get(name)!;
// Counted afresh every time (maxAgeMs 0): these tests watch the numbers change.
const statsOf = async (name: string, now?: number) =>
  (await proxyStats(t.registry, [repo(name)], { maxAgeMs: 0, ...(now ? { now } : {}) })).get(repo(name).id);

describe('proxy statistics', () => {
  it('are for proxies only; a proxy never asked has nothing and an unknown health, an offline one is offline', async () => {
    const all = await proxyStats(t.registry, [...t.registry.repos.values()], { maxAgeMs: 0 });
    expect([...all.keys()].sort()).toEqual([repo('bcr').id, repo('bcr-offline').id].sort());
    expect(all.get(repo('bcr').id)).toMatchObject({
      upstream: up.url,
      state: 'unknown',
      documents: 0,
      staleDocuments: 0,
      artifacts: 0,
      artifactBytes: 0,
      lastAnsweredAt: null,
      lastFailedAt: null,
    });
    expect(all.get(repo('bcr-offline').id)).toMatchObject({ state: 'offline', documents: 0 });
  });

  it('count held documents, the stale ones by their lifetime, and the bytes of held artifacts', async () => {
    const before = Date.now();
    for (const rel of ['modules/ahab/metadata.json', 'modules/ahab/0.1.0/MODULE.bazel', 'modules/demo/1.0/source.json']) {
      expect((await get(`/bcr/${rel}`)).statusCode, rel).toBe(200);
    }
    expect((await get(`/bcr/modules/nope/metadata.json`)).statusCode).toBe(404);
    expect((await get(`/bcr/mirror/127.0.0.1:${up.port}/dl/demo-1.0.tar.gz`)).statusCode).toBe(200);

    const now = await statsOf('bcr');
    expect(now).toMatchObject({ state: 'answering', documents: 3, staleDocuments: 0, artifacts: 1, artifactBytes: archive.length });
    expect(now!.lastAnsweredAt).toBeGreaterThanOrEqual(before);
    // Past the TTL only metadata.json is stale: version files never change, and an upstream 404 holds no document.
    expect(await statsOf('bcr', Date.now() + TTL + 1)).toMatchObject({ documents: 3, staleDocuments: 1 });
  });

  it('say the upstream is failing after a failure, with what clients were told, and answering once it answers again', async () => {
    up.fault('*', { kind: 'status', status: 503 });
    const failed = await get('/bcr/modules/ahab/0.2.0/MODULE.bazel');
    expect(failed.statusCode).toBe(502);
    const failing = await statsOf('bcr');
    expect(failing).toMatchObject({ state: 'failing' });
    expect(failing!.lastFailure).toMatch(/503/);
    expect(failing!.lastFailedAt).toBeGreaterThanOrEqual(failing!.lastAnsweredAt!);

    up.clearFaults();
    up.set('/modules/ahab/0.2.0/MODULE.bazel', { body: 'module(name = "ahab", version = "0.2.0")\n' });
    expect((await get('/bcr/modules/ahab/0.2.0/MODULE.bazel')).statusCode).toBe(200);
    const again = await statsOf('bcr');
    expect(again).toMatchObject({ state: 'answering', documents: 4, lastFailure: failing!.lastFailure });
    expect(again!.lastAnsweredAt).toBeGreaterThanOrEqual(again!.lastFailedAt!);
  });

  it('answer from indexes (no table scan) on SQLite', async () => {
    const plan = async (query: ReturnType<typeof sql>) =>
      (await sql<{ detail: string }>`explain query plan ${query}`.execute(t.registry.db)).rows.map((r) => r.detail).join('\n');
    expect(
      await plan(sql`select count(*), sum(case when immutable = 0 and fetched_at <= 5 then 1 else 0 end) from proxy_docs
        where repo_id = 1 and status = 200`),
    ).toMatch(/USING COVERING INDEX proxy_docs_age/);
    expect(await plan(sql`select repo_id, count(*), sum(size) from proxy_artifacts where repo_id in (1, 2) group by repo_id`)).toMatch(
      /USING COVERING INDEX proxy_artifacts_size/,
    );
  });
});

describe('bazel_0005_proxy_immutable', () => {
  it('marks the version files a Bazel proxy stored before 0009 immutable, and nothing else', async () => {
    const id = repo('bcr-offline').id;
    const row = { repo_id: id, status: 200, upstream_etag: null, fetched_at: 1, immutable: 0 };
    await t.registry.db
      .insertInto('proxy_docs')
      .values([
        { ...row, path: 'modules/old/1.0/MODULE.bazel' },
        { ...row, path: 'modules/old/1.0/patches/fix.patch' },
        { ...row, path: 'modules/old/metadata.json' },
        { ...row, path: 'bazel_registry.json' },
      ])
      .execute();
    await bazelMigrations.find((m) => m.name === 'bazel_0005_proxy_immutable')!.up(t.registry.db as never, 'sqlite');
    const rows = await t.registry.db
      .selectFrom('proxy_docs')
      .select(['path', 'immutable'])
      .where('repo_id', '=', id)
      .orderBy('path')
      .execute();
    expect(rows).toEqual([
      { path: 'bazel_registry.json', immutable: 0 },
      { path: 'modules/old/1.0/MODULE.bazel', immutable: 1 },
      { path: 'modules/old/1.0/patches/fix.patch', immutable: 1 },
      { path: 'modules/old/metadata.json', immutable: 0 },
    ]);
  });
});
