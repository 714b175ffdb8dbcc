/**
 * A Cargo proxy indexes what it holds: an index file fetched from the upstream makes its crate searchable
 * (GET /-/search), a changed file updates the entry, an upstream 404 removes it, `larder mirror` fills search
 * through the same path, and downloads through the proxy (or a group over it) count for the proxy.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RepoConfig } from '../../core/config.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { fakeCratesIo, sparsePath } from '../../../test/support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { mirror } from '../../upstream/mirror.js';
import { mirrorTarget } from '../../upstream/mirror-target.js';

const MINUTE = 60_000;
const OUTBOUND = { retries: 0, timeoutMs: 1500, headersTimeoutMs: 800, bodyTimeoutMs: 800, connectTimeoutMs: 1000 };

describe('Cargo proxy in search', () => {
  let up: FakeUpstream;
  let t: TestApp;
  let io: ReturnType<typeof fakeCratesIo>;
  const repos = (up: FakeUpstream): RepoConfig[] => [
    { name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/`, ttl: 10 * MINUTE },
    { name: 'local', format: 'cargo', kind: 'hosted', visibility: 'public' },
    { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['local', 'crates'] },
  ];
  const get = (url: string) => t.app.inject({ method: 'GET', url });
  const search = async (q: string) => (await get(`/-/search?q=${encodeURIComponent(q)}&fragment=1`)).body;
  const entries = () => t.registry.db.selectFrom('search_entries').select(['repo_id', 'package', 'name', 'latest_version']).execute();

  beforeEach(async () => {
    up = await startFakeUpstream();
    io = fakeCratesIo(up);
    t = await openTestApp({ repos: repos(up), outbound: OUTBOUND });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await t.stop();
    await up.close();
  });

  it('finds a crate once the proxy fetched its index file; a change updates it; an upstream 404 removes it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const crates = t.registry.repos.get('crates')!;
    await io.add({ name: 'rand_core', vers: '0.6.0', deps: [{ name: 'getrandom', req: '0.2' }] });
    expect(await search('rand_core')).toContain('No packages match.');

    expect((await get(`/crates/index/${sparsePath('rand_core')}`)).statusCode).toBe(200);
    const found = await search('rand_core');
    expect(found).toContain('href="/-/packages/crates/rand_core"');
    expect(found).toContain('<span class="muted">0.6.0</span>');
    expect(found).toContain('<span class="badge">crates</span>');
    const deps = await t.registry.db.selectFrom('search_dependencies').select(['repo_id', 'package', 'dependency_key']).execute();
    expect(deps).toEqual([{ repo_id: crates.id, package: 'rand_core', dependency_key: 'getrandom' }]);

    // The upstream publishes a version: the next revalidation moves the entry.
    await io.add({ name: 'rand_core', vers: '0.6.4' });
    vi.setSystemTime(Date.now() + 11 * MINUTE);
    expect((await get(`/crates/index/${sparsePath('rand_core')}`)).statusCode).toBe(200);
    expect(await search('rand_core')).toContain('<span class="muted">0.6.4</span>');

    // The upstream no longer has it.
    up.set(`/${sparsePath('rand_core')}`, null);
    vi.setSystemTime(Date.now() + 11 * MINUTE);
    expect((await get(`/crates/index/${sparsePath('rand_core')}`)).statusCode).toBe(404);
    expect(await search('rand_core')).toContain('No packages match.');
    expect(await entries()).toEqual([]);
    expect(await t.registry.db.selectFrom('search_dependencies').selectAll().execute()).toEqual([]);
  });

  it('indexes a copy held from before when the upstream confirms it (304), and leaves a present entry untouched', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    await io.add({ name: 'log', vers: '0.4.0' });
    expect((await get(`/crates/index/${sparsePath('log')}`)).statusCode).toBe(200);
    const first = await t.registry.db.selectFrom('search_entries').select(['package', 'updated_at']).executeTakeFirstOrThrow();
    vi.setSystemTime(Date.now() + 11 * MINUTE);
    expect((await get(`/crates/index/${sparsePath('log')}`)).statusCode).toBe(200);
    expect(up.requests.at(-1)!.headers['if-none-match']).toMatch(/^"/);
    expect(await t.registry.db.selectFrom('search_entries').select(['package', 'updated_at']).execute()).toEqual([first]);

    // As a copy cached before proxies indexed what they hold.
    await t.registry.db.deleteFrom('search_entries').execute();
    vi.setSystemTime(Date.now() + 11 * MINUTE);
    expect((await get(`/crates/index/${sparsePath('log')}`)).statusCode).toBe(200);
    expect((await entries()).map((e) => `${e.name}@${e.latest_version}`)).toEqual(['log@0.4.0']);
  });

  it('an upstream 404 for a crate it never had records nothing', async () => {
    expect((await get(`/crates/index/${sparsePath('nothing_here')}`)).statusCode).toBe(404);
    expect(await entries()).toEqual([]);
  });

  it('larder mirror fills search through the same path', async () => {
    await io.add({ name: 'itoa', vers: '1.0.0' });
    await io.add({ name: 'ryu', vers: '1.0.0' });
    await io.add({
      name: 'serde_json',
      vers: '1.0.1',
      deps: [
        { name: 'itoa', req: '1' },
        { name: 'ryu', req: '1' },
      ],
    });
    const report = await mirror(mirrorTarget(t.registry, 'crates'), { patterns: ['serde_json'] });
    expect(report.failures).toEqual([]);
    const names = (await entries()).map((e) => `${e.name}@${e.latest_version}`).sort();
    expect(names).toEqual(['itoa@1.0.0', 'ryu@1.0.0', 'serde_json@1.0.1']);
    expect(await search('ryu')).toContain('href="/-/packages/crates/ryu"');
  });

  it('counts downloads through the proxy, and through a group, for the proxy', async () => {
    await io.add({ name: 'anyhow', vers: '1.0.0' });
    expect((await get('/crates/api/v1/crates/anyhow/1.0.0/download')).statusCode).toBe(200);
    expect((await get('/crates/api/v1/crates/anyhow/1.0.0/download')).statusCode).toBe(200);
    expect((await get('/all/api/v1/crates/anyhow/1.0.0/download')).statusCode).toBe(200);
    await t.registry.downloads.flush();
    const rows = await t.registry.db.selectFrom('package_downloads').selectAll().execute();
    expect(rows.map((r) => ({ ...r, count: Number(r.count) }))).toEqual([
      { repo_id: t.registry.repos.get('crates')!.id, package: 'anyhow', version: '1.0.0', count: 3 },
    ]);
  });
});
