/**
 * Cargo proxy and group repositories over HTTP (app.inject) against a fake crates.io
 * (test/support/fake-crates-io.ts): byte-exact index files, revalidation, single flight, negative
 * cache, stale-if-error, verified downloads, timeouts, cooldown, offline, and groups.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { RepoConfig } from '../../core/config.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { openTestAppAt } from '../../../test/support/larder-at.js';
import { expectCargoError, sha256Hex, simplePublishBody } from '../../../test/support/cargo.js';
import { fakeCratesIo, sparsePath } from '../../../test/support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { tempDir } from '../../../test/support/tmp.js';
import type { ProxySource } from '../../upstream/proxy-source.js';
import { cargoFormat } from './index.js';
import { crateDownloadUrl, cargoProxy } from './proxy.js';

const MINUTE = 60_000;
/** Upstream failures answer at once: no retries, short timeouts (undici checks them on a 0.5 s tick). */
const OUTBOUND = { retries: 0, timeoutMs: 1500, headersTimeoutMs: 800, bodyTimeoutMs: 800, connectTimeoutMs: 1000 };

const proxyRepo = (up: FakeUpstream, extra: Partial<RepoConfig> = {}): RepoConfig => ({
  name: 'crates',
  format: 'cargo',
  kind: 'proxy',
  visibility: 'public',
  upstream: `sparse+${up.url}/`,
  ttl: 10 * MINUTE,
  ...extra,
});

const get = (t: TestApp, url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  t.app.inject({ method: 'GET', url, headers });
const index = (t: TestApp, name: string, repo = 'crates') => get(t, `/${repo}/index/${sparsePath(name)}`);
const download = (t: TestApp, name: string, vers: string, repo = 'crates') => get(t, `/${repo}/api/v1/crates/${name}/${vers}/download`);

async function rowCount(t: TestApp, table: 'proxy_artifacts' | 'blobs'): Promise<number> {
  return (
    await t.registry.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
  ).n;
}

/** Moves Larder's clock (Date only: sockets and timers keep real time). */
function advance(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

describe('Cargo proxy parts (pure)', () => {
  it('builds download URLs the way Cargo does from dl (markers, or /{crate}/{version}/download)', () => {
    const ck = 'a'.repeat(64);
    expect(crateDownloadUrl('https://static.crates.io/crates', 'serde', '1.0.0+x', ck)).toBe(
      'https://static.crates.io/crates/serde/1.0.0+x/download',
    );
    expect(crateDownloadUrl('https://h/c/', 'Serde', '1.0.0', ck)).toBe('https://h/c/Serde/1.0.0/download');
    expect(crateDownloadUrl('https://h/{prefix}/{lowerprefix}/{crate}-{version}.crate?s={sha256-checksum}', 'MyCrate', '2.0.0', ck)).toBe(
      `https://h/My/Cr/my/cr/MyCrate-2.0.0.crate?s=${ck}`,
    );
    expect(crateDownloadUrl('https://h/{prefix}/{crate}', 'Abc', '1.0.0', ck)).toBe('https://h/3/A/Abc');
    expect(crateDownloadUrl('https://h/{lowerprefix}/{crate}', 'Ab', '1.0.0', ck)).toBe('https://h/2/Ab');
  });

  it('lists versions with pubtime, and drops hidden lines byte-exactly', () => {
    const body = Buffer.from(
      '{"name":"a","vers":"1.0.0","cksum":"x", "weird" : [1,2]}\n' +
        'not json\n' +
        '{"name":"a","vers":"1.1.0","pubtime":"2026-01-02T03:04:05Z"}\n' +
        '{"name":"a","vers":"1.2.0"}',
    );
    expect(cargoProxy.versions!('1/a', body)).toEqual([
      { version: '1.0.0' },
      { version: '1.1.0', publishedAt: Date.parse('2026-01-02T03:04:05Z') },
      { version: '1.2.0' },
    ]);
    expect(cargoProxy.versions!('config.json', Buffer.from('{"dl":"x"}'))).toEqual([]);
    expect(cargoProxy.withoutVersions!('1/a', body, new Set(['1.1.0']))!.toString()).toBe(
      '{"name":"a","vers":"1.0.0","cksum":"x", "weird" : [1,2]}\nnot json\n{"name":"a","vers":"1.2.0"}',
    );
    expect(cargoProxy.withoutVersions!('1/a', body, new Set(['1.0.0', '1.1.0', '1.2.0']))).toBeNull();
  });

  it('strips sparse+ and the slash from the upstream; fetches only config.json and index paths', () => {
    expect(cargoProxy.upstreamBase!('sparse+https://index.crates.io/')).toBe('https://index.crates.io');
    expect(cargoProxy.upstreamBase!('https://index.crates.io/')).toBe('https://index.crates.io');
    expect(cargoProxy.docUrl('https://u', 'se/rd/serde')).toBe('https://u/se/rd/serde');
    expect(cargoProxy.docUrl('https://u', 'config.json')).toBe('https://u/config.json');
    expect(cargoProxy.docUrl('https://u', 'Se/rd/Serde')).toBeNull();
    expect(cargoProxy.docUrl('https://u', '../etc/passwd')).toBeNull();
  });
});

describe('client setup per kind', () => {
  const setup = (repo: Partial<RepoConfig>) =>
    cargoFormat.clientSetup({ id: 1, name: 'r', format: 'cargo', kind: 'hosted', visibility: 'public', ...repo }, 'https://l.test', {})
      .snippet;

  it('hosted: an alternative registry; proxy of crates.io: source replacement; group: both, with when to use which', () => {
    expect(setup({})).toContain('[registries.r]\nindex = "sparse+https://l.test/r/index/"');
    const proxy = setup({ kind: 'proxy' });
    expect(proxy).toContain('[source.crates-io]\nreplace-with = "r"\n\n[source.r]\nregistry = "sparse+https://l.test/r/index/"');
    expect(proxy).not.toContain('[registries.');
    expect(setup({ kind: 'proxy', upstream: 'sparse+https://index.crates.io/' })).toContain('[source.crates-io]');
    expect(setup({ kind: 'proxy', upstream: 'https://other.example/index/' })).toContain('[registries.r]');
    const group = setup({ kind: 'group', members: ['a', 'b'] });
    expect(group).toContain('[registries.r]\nindex = "sparse+https://l.test/r/index/"');
    expect(group).toContain('# [source.crates-io]\n# replace-with = "r"');
    expect(group).toMatch(/only when the group holds nothing but copies of crates\.io/);
  });
});

describe('client setup: the git index beside the sparse one', () => {
  const setup = (repo: Partial<RepoConfig>) =>
    cargoFormat.clientSetup({ id: 1, name: 'r', format: 'cargo', kind: 'hosted', visibility: 'public', ...repo }, 'https://l.test', {})
      .snippet;

  it('recommends sparse, shows the git index commented out, and says the two are different sources to cargo', () => {
    const hosted = setup({});
    expect(hosted.indexOf('index = "sparse+https://l.test/r/index/"')).toBeLessThan(
      hosted.indexOf('# index = "https://l.test/r/git/index"'),
    );
    expect(hosted).toContain('The sparse index above is faster and is the recommended one. The two are different sources to Cargo:');
    expect(hosted).toContain('a Cargo.lock made with one does not match the other');
    expect(hosted).not.toContain('credential helper');
    expect(setup({ visibility: 'private' })).toContain('store a Larder token as the password in a git credential helper');
    expect(setup({ kind: 'proxy' })).toContain('# [source.r]\n# registry = "https://l.test/r/git/index"');
  });
});

describe('Cargo proxy', () => {
  let up: FakeUpstream;
  let t: TestApp;
  let io: ReturnType<typeof fakeCratesIo>;

  beforeEach(async () => {
    up = await startFakeUpstream();
    io = fakeCratesIo(up);
    t = await openTestApp({ repos: [proxyRepo(up)], outbound: OUTBOUND });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await t.stop();
    await up.close();
  });

  it('serves upstream index files byte for byte, and its own config.json pointing at Larder', async () => {
    const { line } = await io.add({ name: 'serde', vers: '1.0.0' });
    const odd = '{"vers":"1.0.1", "name":"serde","deps":[],"cksum":"' + 'b'.repeat(64) + '","features":{},"x-unknown":{"k":[1]}}';
    const body = `${line}\n${odd}`; // unusual spacing, unknown fields, no final newline
    up.set('/se/rd/serde', { body });
    const res = await index(t, 'serde');
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(Buffer.from(body))).toBe(true);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers.etag).toMatch(/^"[^"]+"$/);
    expect(res.headers['x-larder-stale']).toBeUndefined();
    const cfg = await get(t, '/crates/index/config.json');
    expect(cfg.json()).toEqual({ dl: 'https://larder.test/crates/api/v1/crates', api: 'https://larder.test/crates' });
    expect(up.hits('/config.json')).toBe(0);
  });

  it('downloads a crate from where the upstream config.json says, verified, once', async () => {
    const { crate, cksum, cratePath } = await io.add({ name: 'serde', vers: '1.0.0' });
    const res = await download(t, 'serde', '1.0.0');
    expect(res.statusCode).toBe(200);
    expect(sha256Hex(res.rawPayload)).toBe(cksum);
    expect(res.rawPayload.equals(crate)).toBe(true);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect((await download(t, 'serde', '1.0.0')).rawPayload.equals(crate)).toBe(true);
    expect(up.hits(cratePath)).toBe(1);
    expect(up.hits('/config.json')).toBe(1);
    // A version the index does not list is never asked for.
    expectCargoError(await download(t, 'serde', '9.9.9'), 404);
    expect(up.hits('/crates/serde/9.9.9/download')).toBe(0);
  });

  it('follows a dl template with markers (case-preserved {prefix}, {lowerprefix}, {sha256-checksum})', async () => {
    io = fakeCratesIo(up, { dl: `${up.url}/files/{lowerprefix}/{crate}/{crate}-{version}-{sha256-checksum}.crate` });
    const { crate, cksum, cratePath } = await io.add({ name: 'MyCrate', vers: '0.1.0' });
    up.set(cratePath, null);
    up.set(`/files/my/cr/MyCrate/MyCrate-0.1.0-${cksum}.crate`, { body: crate });
    const res = await download(t, 'MyCrate', '0.1.0');
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(crate)).toBe(true);
  });

  it('revalidates with If-None-Match after the TTL: a 304 refreshes, a change is served', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const first = await io.add({ name: 'rand', vers: '0.8.0' });
    const a = await index(t, 'rand');
    expect(a.body).toBe(`${first.line}\n`);
    expect((await index(t, 'rand')).body).toBe(a.body);
    expect(up.hits(first.indexPath)).toBe(1);
    advance(11 * MINUTE);
    const b = await index(t, 'rand');
    expect(b.body).toBe(a.body);
    expect(up.hits(first.indexPath)).toBe(2);
    expect(up.requests.at(-1)!.headers['if-none-match']).toMatch(/^"/);
    await index(t, 'rand');
    expect(up.hits(first.indexPath)).toBe(2);
    // The client's own conditional GET against Larder.
    expect((await get(t, '/crates/index/ra/nd/rand', { 'if-none-match': a.headers.etag as string })).statusCode).toBe(304);
    // The upstream file changes between two requests.
    const second = await io.add({ name: 'rand', vers: '0.9.0' });
    advance(11 * MINUTE);
    const c = await index(t, 'rand');
    expect(c.body).toBe(`${first.line}\n${second.line}\n`);
    expect(c.headers.etag).not.toBe(a.headers.etag);
    expect((await download(t, 'rand', '0.9.0')).rawPayload.equals(second.crate)).toBe(true);
  });

  it('single flight: 100 concurrent misses of one index file or one crate make one upstream request each', async () => {
    const { indexPath, cratePath, crate } = await io.add({ name: 'tokio', vers: '1.0.0' });
    up.fault(indexPath, { kind: 'slow', ms: 300 }, { times: 1 });
    const docs = await Promise.all(Array.from({ length: 100 }, () => index(t, 'tokio')));
    expect(docs.map((r) => r.statusCode)).toEqual(Array(100).fill(200));
    expect(up.hits(indexPath)).toBe(1);
    up.fault(cratePath, { kind: 'slow', ms: 300 }, { times: 1 });
    const crates = await Promise.all(Array.from({ length: 100 }, () => download(t, 'tokio', '1.0.0')));
    expect(crates.every((r) => r.statusCode === 200 && r.rawPayload.equals(crate))).toBe(true);
    expect(up.hits(cratePath)).toBe(1);
  });

  it('negative cache: a crate the upstream does not have is asked for once', async () => {
    expectCargoError(await index(t, 'nope'), 404);
    expectCargoError(await index(t, 'nope'), 404);
    expect(up.hits('/no/pe/nope')).toBe(1);
    // A listed version whose file the upstream lost: 404, asked once.
    const { cratePath } = await io.add({ name: 'lost', vers: '1.0.0' });
    up.set(cratePath, null);
    expectCargoError(await download(t, 'lost', '1.0.0'), 404);
    expectCargoError(await download(t, 'lost', '1.0.0'), 404);
    expect(up.hits(cratePath)).toBe(1);
  });

  it('upstream down: the cached copy, marked stale; nothing cached is a 502 in Cargo’s shape, never a 404', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { line, crate } = await io.add({ name: 'log', vers: '0.4.0' });
    await io.add({ name: 'other', vers: '1.0.0' });
    await index(t, 'log');
    await download(t, 'log', '0.4.0');
    await up.stop();
    advance(11 * MINUTE);
    const stale = await index(t, 'log');
    expect(stale.statusCode).toBe(200);
    expect(stale.body).toBe(`${line}\n`);
    expect(stale.headers['x-larder-stale']).toBeDefined();
    expect((await download(t, 'log', '0.4.0')).rawPayload.equals(crate)).toBe(true);
    expectCargoError(await index(t, 'other'), 502, /127\.0\.0\.1/);
    const metrics = (await get(t, '/-/metrics')).body;
    expect(metrics).toMatch(/larder_proxy_stale_served_total\{repo="crates"\} [1-9]/);
  });

  it('a crate whose bytes do not match the index cksum is refused (502) and not stored; the fixed upstream then serves', async () => {
    const { cratePath, crate } = await io.add({ name: 'bad', vers: '1.0.0' });
    await index(t, 'bad');
    up.fault(cratePath, { kind: 'wrong-bytes' }, { times: 1 });
    expectCargoError(await download(t, 'bad', '1.0.0'), 502, /sha256/);
    expect(await rowCount(t, 'proxy_artifacts')).toBe(0);
    expect(await rowCount(t, 'blobs')).toBe(0);
    const ok = await download(t, 'bad', '1.0.0');
    expect(ok.statusCode).toBe(200);
    expect(ok.rawPayload.equals(crate)).toBe(true);
    expect(up.hits(cratePath)).toBe(2);
    expect(await rowCount(t, 'proxy_artifacts')).toBe(1);
  });

  it('a truncated download is a 502 and stores nothing', async () => {
    const { cratePath, crate } = await io.add({ name: 'cut', vers: '1.0.0' });
    up.fault(cratePath, { kind: 'truncate' }, { times: 1 });
    expectCargoError(await download(t, 'cut', '1.0.0'), 502);
    expect(await rowCount(t, 'proxy_artifacts')).toBe(0);
    expect((await download(t, 'cut', '1.0.0')).rawPayload.equals(crate)).toBe(true);
    expect(up.hits(cratePath)).toBe(2);
  });

  it('an upstream slower than [outbound] timeouts is a 504 (index) or 5xx (crate body), never a 404', async () => {
    const { indexPath, cratePath } = await io.add({ name: 'slow', vers: '1.0.0' });
    up.fault(indexPath, { kind: 'slow', ms: 5000 }, { times: 1 });
    expectCargoError(await index(t, 'slow'), 504);
    expect((await index(t, 'slow')).statusCode).toBe(200);
    up.fault(cratePath, { kind: 'slow', ms: 5000, stage: 'body' }, { times: 1 });
    const res = await download(t, 'slow', '1.0.0');
    expect([502, 504]).toContain(res.statusCode);
    expectCargoError(res, res.statusCode);
    expect(await rowCount(t, 'proxy_artifacts')).toBe(0);
  }, 20_000);

  it('publishing to a proxy is refused with REPO_READ_ONLY in Cargo’s error shape', async () => {
    const { body } = await simplePublishBody('mine', '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: '/crates/api/v1/crates/new',
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expectCargoError(res, 405, /read-only: publish to a hosted repository/);
    const yank = await t.app.inject({
      method: 'DELETE',
      url: '/crates/api/v1/crates/serde/1.0.0/yank',
      headers: { authorization: t.adminToken },
    });
    expectCargoError(yank, 405, /read-only/);
  });

  it('mirrorPackage lists every version (yanked too) and the real names of same-registry dependencies', async () => {
    await io.add({ name: 'app', vers: '1.0.0', deps: [{ name: 'serde', req: '^1' }] });
    await io.add({
      name: 'app',
      vers: '1.1.0',
      yanked: true,
      deps: [
        { name: 'rnd', req: '^0.8', package: 'rand' },
        { name: 'testing', req: '^1', kind: 'dev' },
        { name: 'cc', req: '^1', kind: 'build' },
        { name: 'private', req: '^1', registry: 'https://elsewhere.example/index/' },
      ],
    });
    const source = t.registry.sources.get('crates') as ProxySource;
    expect(source.upstream).toBe(up.url);
    const plan = await cargoProxy.mirrorPackage(source.context, 'app');
    expect(plan).toEqual({ artifacts: ['app/1.0.0', 'app/1.1.0'], dependencies: ['serde', 'rand', 'cc'] });
    expect(await cargoProxy.mirrorPackage(source.context, 'absent')).toBeNull();
    expect(cargoProxy.listPackages).toBeUndefined();
  });
});

describe('Cargo proxy cooldown', () => {
  let up: FakeUpstream;
  let t: TestApp;
  let io: ReturnType<typeof fakeCratesIo>;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    up = await startFakeUpstream();
    io = fakeCratesIo(up);
    t = await openTestApp({ repos: [proxyRepo(up, { cooldown: 60 * MINUTE })], outbound: OUTBOUND });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await t.stop();
    await up.close();
  });

  it('hides a version that appears in a later fetch until the cooldown passes (first-seen, no pubtime)', async () => {
    const old = await io.add({ name: 'anyhow', vers: '1.0.0', pubtime: null });
    expect((await index(t, 'anyhow')).body).toBe(`${old.line}\n`);
    const young = await io.add({ name: 'anyhow', vers: '1.0.1', pubtime: null });
    advance(11 * MINUTE);
    const hidden = await index(t, 'anyhow');
    expect(hidden.body).toBe(`${old.line}\n`);
    expectCargoError(await download(t, 'anyhow', '1.0.1'), 404);
    expect(up.hits(young.cratePath)).toBe(0);
    // Still hidden just before an hour after it was first seen, visible after.
    advance(58 * MINUTE);
    expect((await index(t, 'anyhow')).body).toBe(`${old.line}\n`);
    advance(3 * MINUTE);
    expect((await index(t, 'anyhow')).body).toBe(`${old.line}\n${young.line}\n`);
    expect((await download(t, 'anyhow', '1.0.1')).rawPayload.equals(young.crate)).toBe(true);
  });

  it('uses the line’s pubtime: an old one is visible at once, a recent one hidden even at the first fetch', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const old = await io.add({ name: 'regex', vers: '1.0.0', pubtime: iso(now - 2 * 60 * MINUTE) });
    const fresh = await io.add({ name: 'regex', vers: '1.1.0', pubtime: iso(now - 10 * MINUTE) });
    expect((await index(t, 'regex')).body).toBe(`${old.line}\n`);
    await io.add({ name: 'brandnew', vers: '0.1.0', pubtime: iso(now) });
    expectCargoError(await index(t, 'brandnew'), 404);
    advance(51 * MINUTE);
    expect((await index(t, 'regex')).body).toBe(`${old.line}\n${fresh.line}\n`);
  });
});

describe('Cargo proxy offline', () => {
  it('never contacts the upstream and serves what is cached', async () => {
    const up = await startFakeUpstream();
    const io = fakeCratesIo(up);
    const dir = tempDir('larder-offline-');
    const data = `${dir.path}/data`;
    try {
      const { crate, line } = await io.add({ name: 'cached', vers: '1.0.0' });
      await io.add({ name: 'uncached', vers: '1.0.0' });
      const online = await openTestAppAt(data, { repos: [proxyRepo(up)], outbound: OUTBOUND });
      await index(online, 'cached');
      await download(online, 'cached', '1.0.0');
      await online.stop();
      up.resetHits();
      const offline = await openTestAppAt(data, { repos: [proxyRepo(up, { offline: true, ttl: 1 })], outbound: OUTBOUND });
      try {
        await new Promise((r) => setTimeout(r, 20));
        expect((await index(offline, 'cached')).body).toBe(`${line}\n`);
        expect((await download(offline, 'cached', '1.0.0')).rawPayload.equals(crate)).toBe(true);
        expectCargoError(await index(offline, 'uncached'), 404);
        expectCargoError(await download(offline, 'uncached', '1.0.0'), 404);
        expect(up.requests).toEqual([]);
      } finally {
        await offline.stop();
      }
    } finally {
      await up.close();
      dir.remove();
    }
  });
});

describe('Cargo group (hosted + proxy)', () => {
  let up: FakeUpstream;
  let t: TestApp;
  let io: ReturnType<typeof fakeCratesIo>;

  beforeAll(async () => {
    up = await startFakeUpstream();
    io = fakeCratesIo(up);
    t = await openTestApp({
      repos: [
        { name: 'mine', format: 'cargo', kind: 'hosted', visibility: 'public' },
        proxyRepo(up),
        { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['crates', 'mine'] },
      ],
      outbound: OUTBOUND,
    });
    for (const [name, vers] of [
      ['foo_bar', '1.0.0'],
      ['both', '1.0.0'],
    ]) {
      const { body } = await simplePublishBody(name!, vers!);
      const res = await t.app.inject({
        method: 'PUT',
        url: '/mine/api/v1/crates/new',
        headers: { authorization: t.adminToken },
        payload: body,
      });
      expect(res.statusCode).toBe(200);
    }
    await io.add({ name: 'foo-bar', vers: '9.0.0' });
    await io.add({ name: 'Foo_Bar', vers: '9.0.0' });
    await io.add({ name: 'both', vers: '2.0.0' });
    await io.add({ name: 'serde', vers: '1.0.0' });
  });
  afterAll(async () => {
    await t.stop();
    await up.close();
  });

  it('serves a package from the hosted member first, all of it from that member', async () => {
    const hosted = await index(t, 'both', 'mine');
    const res = await index(t, 'both', 'all');
    expect(res.body).toBe(hosted.body);
    expect(res.body).not.toContain('2.0.0');
    expect((await download(t, 'both', '1.0.0', 'all')).rawPayload.equals((await download(t, 'both', '1.0.0', 'mine')).rawPayload)).toBe(
      true,
    );
    expectCargoError(await download(t, 'both', '2.0.0', 'all'), 404);
    expect(up.hits('/crates/both/2.0.0/download')).toBe(0);
  });

  it('serves what only the proxy has, byte for byte', async () => {
    expect((await index(t, 'serde', 'all')).body).toBe((await index(t, 'serde', 'crates')).body);
    const res = await download(t, 'serde', '1.0.0', 'all');
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals((await download(t, 'serde', '1.0.0', 'crates')).rawPayload)).toBe(true);
  });

  it('a hosted foo_bar hides the upstream’s foo-bar and Foo_Bar (names compared like crates.io), counted in metrics', async () => {
    expect((await index(t, 'foo_bar', 'all')).body).toContain('"name":"foo_bar"');
    expect((await index(t, 'foo_bar', 'all')).body).not.toContain('9.0.0');
    expectCargoError(await index(t, 'foo-bar', 'all'), 404);
    expectCargoError(await download(t, 'foo-bar', '9.0.0', 'all'), 404);
    expectCargoError(await download(t, 'Foo_Bar', '9.0.0', 'all'), 404);
    expect(up.hits('/crates/foo-bar/9.0.0/download')).toBe(0);
    expect(up.hits('/crates/Foo_Bar/9.0.0/download')).toBe(0);
    await vi.waitFor(async () => {
      expect((await get(t, '/-/metrics')).body).toMatch(/larder_group_confusion_refused_total\{repo="all"\} [1-9]/);
    });
  });

  it('answers config.json pointing at the group, and refuses publishing with REPO_READ_ONLY', async () => {
    expect((await get(t, '/all/index/config.json')).json()).toEqual({
      dl: 'https://larder.test/all/api/v1/crates',
      api: 'https://larder.test/all',
    });
    const { body } = await simplePublishBody('newone', '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: '/all/api/v1/crates/new',
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expectCargoError(res, 405, /read-only/);
  });
});

describe('Cargo proxy upstream default', () => {
  it('is crates.io’s sparse index when none is configured', async () => {
    const t = await openTestApp({ repos: [{ name: 'cio', format: 'cargo', kind: 'proxy', visibility: 'public' }] });
    try {
      expect((t.registry.sources.get('cio') as ProxySource).upstream).toBe('https://index.crates.io');
    } finally {
      await t.stop();
    }
  });
});
