/**
 * Bazel proxy and group repositories against a fake upstream serving real BCR files
 * (../shared/fixtures/bcr-sample): byte-exact documents, TTLs, failures that are never a 404,
 * the archive mirror with its integrity checks, cooldown, offline, and groups.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BCR_POLICY, type RepoConfig } from '../../core/config.js';
import { sri } from '../../core/sri.js';
import type { ProxySource } from '../../upstream/proxy-source.js';
import { tarGz } from '../../../test/support/archives.js';
import { hostedPublishBody } from '../../../test/support/bazel.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { openTestApp, type TestApp, type TestLarderOptions } from '../../../test/support/larder.js';
import { bazelClientSnippet } from './client-setup.js';
import { bazelProxyParts } from './proxy.js';

const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const MANIFEST = new Map(
  fs
    .readFileSync(path.join(FIXTURE, 'MANIFEST.sha256'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/))
    .map(([hash, rel]) => [rel!.replace(/^\.\//, ''), hash!]),
);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let up: FakeUpstream;
let archive: Buffer;
const open: TestApp[] = [];

/** Serves every fixture file, plus a module `demo` whose archive lives on the fake upstream. */
function serveRegistry(integrity = sri(archive)): void {
  for (const rel of MANIFEST.keys()) up.set(`/${rel}`, { body: fs.readFileSync(path.join(FIXTURE, rel)) });
  up.set('/modules/demo/metadata.json', { body: JSON.stringify({ versions: ['1.0'], yanked_versions: {} }, null, 4) + '\n' });
  up.set('/modules/demo/1.0/MODULE.bazel', {
    body: 'module(name = "demo", version = "1.0")\nbazel_dep(name = "ahab", version = "0.2.0")\n',
  });
  up.set('/modules/demo/1.0/source.json', {
    body: JSON.stringify({ url: `${up.url}/dl/demo-1.0.tar.gz?raw=1`, integrity, strip_prefix: 'demo-1.0' }, null, 4) + '\n',
  });
  up.set('/dl/demo-1.0.tar.gz', { body: archive });
}

beforeAll(async () => {
  up = await startFakeUpstream();
  archive = await tarGz([{ name: 'demo-1.0/MODULE.bazel', body: 'module(name = "demo", version = "1.0")\n' }]);
});
afterEach(async () => {
  while (open.length) await open.pop()!.stop();
  up.clearFaults();
  await up.stop();
  await up.start();
  up.resetHits();
});
afterAll(async () => {
  await up?.close();
});

const proxy = (extra: Partial<RepoConfig> = {}): RepoConfig => ({
  name: 'bcr',
  format: 'bazel',
  kind: 'proxy',
  visibility: 'public',
  upstream: up.url,
  ...extra,
});

async function larder(repos: RepoConfig[], opts: Partial<TestLarderOptions> = {}): Promise<TestApp> {
  serveRegistry();
  const app = await openTestApp({ repos, ...opts, outbound: { retries: 0, ...opts.outbound } });
  open.push(app);
  return app;
}
const get = (app: TestApp, url: string) => app.app.inject({ method: 'GET', url });
const ARCHIVE_PATH = () => `/bcr/mirror/127.0.0.1:${up.port}/dl/demo-1.0.tar.gz?raw=1`;

describe('a Bazel proxy of a BCR-shaped upstream', () => {
  it('serves registry files byte for byte, CRLF and missing trailing newlines included', async () => {
    const app = await larder([proxy()]);
    for (const rel of ['modules/bzlws/0.2.0/MODULE.bazel', 'modules/magic_enum/0.9.7/MODULE.bazel', 'modules/rules_ciq/metadata.json']) {
      const res = await get(app, `/bcr/${rel}`);
      expect(res.statusCode, rel).toBe(200);
      expect(sha256(res.rawPayload), rel).toBe(MANIFEST.get(rel));
    }
    const source = await get(app, '/bcr/modules/ahab/0.2.0/source.json');
    expect(sha256(source.rawPayload)).toBe(MANIFEST.get('modules/ahab/0.2.0/source.json'));
    expect(source.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await get(app, '/bcr/modules/ahab/metadata.json')).headers['cache-control']).toBe('no-cache');
  });

  it("lists Larder's own mirror first in bazel_registry.json, then the upstream's", async () => {
    const app = await larder([proxy()]);
    up.set('/bazel_registry.json', { body: '{\n    "mirrors": ["https://mirror.bazel.build/"]\n}\n' });
    const res = await get(app, '/bcr/bazel_registry.json');
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ mirrors: ['https://larder.test/bcr/mirror', 'https://mirror.bazel.build/'] });
    // Stable bytes: a lockfile records this file's hash.
    expect((await get(app, '/bcr/bazel_registry.json')).rawPayload).toEqual(res.rawPayload);
  });

  it('keeps files under modules/{m}/{v}/ forever and revalidates metadata.json after the TTL', async () => {
    const app = await larder([proxy({ ttl: 100 })]);
    for (let i = 0; i < 2; i++) {
      expect((await get(app, '/bcr/modules/ahab/0.1.0/MODULE.bazel')).statusCode).toBe(200);
      expect((await get(app, '/bcr/modules/ahab/metadata.json')).statusCode).toBe(200);
      await sleep(150);
    }
    expect(up.hits('/modules/ahab/0.1.0/MODULE.bazel')).toBe(1);
    expect(up.hits('/modules/ahab/metadata.json')).toBe(2);
    expect(up.requests.filter((r) => r.path === '/modules/ahab/metadata.json')[1]!.headers['if-none-match']).toBeTruthy();
  });

  it('answers an upstream 404 with a 404 and believes it for a while', async () => {
    const app = await larder([proxy()]);
    for (let i = 0; i < 2; i++) {
      const res = await get(app, '/bcr/modules/nope/1.0/MODULE.bazel');
      expect(res.statusCode).toBe(404);
    }
    expect(up.hits('/modules/nope/1.0/MODULE.bazel')).toBe(1);
  });

  it('never turns an upstream failure into a 404 (Bazel would fall through to the next registry)', async () => {
    const app = await larder([proxy()], { outbound: { headersTimeoutMs: 300, timeoutMs: 2000 } });
    up.fault('/modules/ahab/0.1.0/MODULE.bazel', { kind: 'status', status: 500 });
    const failed = await get(app, '/bcr/modules/ahab/0.1.0/MODULE.bazel');
    expect(failed.statusCode).toBe(502);
    expect(failed.headers['content-type']).toMatch(/^text\/plain/);
    expect(failed.body).toMatch(/500/);

    up.fault('/modules/ahab/0.2.0/MODULE.bazel', { kind: 'slow', ms: 3000 });
    const slow = await get(app, '/bcr/modules/ahab/0.2.0/MODULE.bazel');
    expect(slow.statusCode).toBe(504);
    expect(slow.headers['content-type']).toMatch(/^text\/plain/);

    await up.stop();
    const down = await get(app, '/bcr/modules/bzlws/0.2.0/MODULE.bazel');
    expect(down.statusCode).toBe(502);
  });

  it('serves the last copy marked stale when the upstream is down', async () => {
    const app = await larder([proxy({ ttl: 50 })]);
    const first = await get(app, '/bcr/modules/ahab/metadata.json');
    expect(first.headers['x-larder-stale']).toBeUndefined();
    await up.stop();
    await sleep(100);
    const stale = await get(app, '/bcr/modules/ahab/metadata.json');
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['x-larder-stale']).toBeTruthy();
    expect(stale.rawPayload).toEqual(first.rawPayload);
  });

  it('asks the upstream once for concurrent misses of one file', async () => {
    const app = await larder([proxy()]);
    up.fault('/modules/ahab/0.2.0/source.json', { kind: 'slow', ms: 200 }, { times: 1 });
    const all = await Promise.all(Array.from({ length: 6 }, () => get(app, '/bcr/modules/ahab/0.2.0/source.json')));
    expect(all.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(up.hits('/modules/ahab/0.2.0/source.json')).toBe(1);
  });

  it('serves nothing but what it holds when offline', async () => {
    const app = await larder([proxy({ offline: true })]);
    expect((await get(app, '/bcr/modules/ahab/metadata.json')).statusCode).toBe(404);
    expect(up.requests).toHaveLength(0);
  });

  it('hides versions younger than the cooldown from metadata.json and leaves other documents byte-exact', async () => {
    const app = await larder([proxy({ ttl: 50, cooldown: 3_600_000 })]);
    const first = await get(app, '/bcr/modules/ahab/metadata.json');
    // Versions there at the first look were published before Larder looked: not young, bytes untouched.
    expect(sha256(first.rawPayload)).toBe(MANIFEST.get('modules/ahab/metadata.json'));
    const meta = JSON.parse(first.body) as { versions: string[] };
    up.set('/modules/ahab/metadata.json', { body: JSON.stringify({ ...meta, versions: [...meta.versions, '0.3.0'] }) });
    await sleep(100);
    const later = JSON.parse((await get(app, '/bcr/modules/ahab/metadata.json')).body) as { versions: string[] };
    expect(later.versions).toEqual(['0.1.0', '0.2.0']);
  });
});

describe('the archive mirror of a Bazel proxy', () => {
  const allowed = { outbound: { allowPrivate: ['127.0.0.1'] } };

  it('downloads a promised archive once, checks its SRI, stores and serves it', async () => {
    const app = await larder([proxy()], allowed);
    expect((await get(app, '/bcr/modules/demo/1.0/source.json')).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await get(app, ARCHIVE_PATH());
      expect(res.statusCode).toBe(200);
      expect(res.rawPayload).toEqual(archive);
      expect(res.headers['content-encoding']).toBeUndefined();
    }
    expect(up.hits('/dl/demo-1.0.tar.gz')).toBe(1);
  });

  it('serves archives of every type unchanged, never unpacked nor content-encoded (issue 16)', async () => {
    const app = await larder([proxy()], allowed);
    const types = ['zip', 'jar', 'war', 'aar', 'tar', 'tar.gz', 'tgz', 'tar.xz', 'txz', 'tar.zst', 'tzst', 'tar.bz2', 'ar', 'deb'];
    // Not even a valid archive: the mirror checks the promised SRI and serves bytes; Bazel unpacks.
    const bodies = types.map((type, i) => Buffer.concat([Buffer.from(`${type}\0`), Buffer.alloc(1000 + i, i)]));
    const versions = types.map((_, i) => `2.${i}`);
    up.set('/modules/many/metadata.json', { body: JSON.stringify({ versions, yanked_versions: {} }) });
    types.forEach((type, i) => {
      const v = versions[i]!;
      // Every other one is named without its type, which then comes from archive_type.
      const url = i % 2 ? `${up.url}/dl/many-${v}.${type}` : `${up.url}/dl/many-${v}?type=${type}`;
      up.set(`/modules/many/${v}/MODULE.bazel`, { body: `module(name = "many", version = "${v}")\n` });
      const source = { url, integrity: sri(bodies[i]!), ...(i % 2 ? {} : { archive_type: type }) };
      up.set(`/modules/many/${v}/source.json`, { body: JSON.stringify(source) });
      up.set(new URL(url).pathname, { body: bodies[i]! });
    });
    for (const [i, type] of types.entries()) {
      const v = versions[i]!;
      expect((await get(app, `/bcr/modules/many/${v}/source.json`)).statusCode).toBe(200);
      const rest = i % 2 ? `dl/many-${v}.${type}` : `dl/many-${v}?type=${type}`;
      const res = await app.app.inject({
        method: 'GET',
        url: `/bcr/mirror/127.0.0.1:${up.port}/${rest}`,
        headers: { 'accept-encoding': 'gzip, br' },
      });
      expect(res.statusCode, `${type}: ${res.body}`).toBe(200);
      expect(res.rawPayload.equals(bodies[i]!), type).toBe(true);
      expect(res.headers['content-encoding'], type).toBeUndefined();
      expect(Number(res.headers['content-length']), type).toBe(bodies[i]!.length);
    }
  });

  it('refuses an archive whose bytes do not match the integrity source.json promised, and stores nothing', async () => {
    const app = await larder([proxy()], allowed);
    up.set('/modules/demo/1.0/source.json', {
      body: JSON.stringify({ url: `${up.url}/dl/demo-1.0.tar.gz?raw=1`, integrity: sri(Buffer.from('other bytes')) }),
    });
    await get(app, '/bcr/modules/demo/1.0/source.json');
    const res = await get(app, ARCHIVE_PATH());
    expect(res.statusCode).toBe(502);
    expect(res.body).toMatch(/integrity/);
    expect(await app.registry.db.selectFrom('proxy_artifacts').selectAll().execute()).toEqual([]);
  });

  it('stores nothing from a truncated download, and fetches it whole on the next request', async () => {
    const app = await larder([proxy()], allowed);
    await get(app, '/bcr/modules/demo/1.0/source.json');
    up.fault('/dl/demo-1.0.tar.gz', { kind: 'truncate' }, { times: 1 });
    const res = await get(app, ARCHIVE_PATH());
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(await app.registry.db.selectFrom('proxy_artifacts').selectAll().execute()).toEqual([]);
    const again = await get(app, ARCHIVE_PATH());
    expect(again.statusCode).toBe(200);
    expect(again.rawPayload).toEqual(archive);
  });

  it('refuses archives no source.json promised (no open proxy)', async () => {
    const app = await larder([proxy()], allowed);
    const res = await get(app, `/bcr/mirror/127.0.0.1:${up.port}/dl/demo-1.0.tar.gz?raw=1`);
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatch(/mirrors only source archives named by a source.json/);
    expect(up.hits('/dl/demo-1.0.tar.gz')).toBe(0);
  });

  it('keeps the [outbound] address rules for archive URLs, which come from documents', async () => {
    const app = await larder([proxy()]);
    expect((await get(app, '/bcr/modules/demo/1.0/source.json')).statusCode).toBe(200);
    const res = await get(app, ARCHIVE_PATH());
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/allow_private/);
    expect(up.hits('/dl/demo-1.0.tar.gz')).toBe(0);
  });

  it('plans a module for `larder mirror`: every version file fetched, archives and dependencies named', async () => {
    const app = await larder([proxy()]);
    const ctx = (app.registry.sources.get('bcr') as ProxySource).context;
    const plan = await bazelProxyParts.mirrorPackage(ctx, 'demo');
    expect(plan).toEqual({ artifacts: [`mirror/127.0.0.1:${up.port}/dl/demo-1.0.tar.gz?raw=1`], dependencies: ['ahab'] });
    expect(up.hits('/modules/demo/1.0/MODULE.bazel')).toBe(1);
    const ahab = await bazelProxyParts.mirrorPackage(ctx, 'ahab');
    expect(ahab?.artifacts).toEqual([
      'mirror/github.com/mrkkrp/ahab/releases/download/v0.1.0/ahab-0.1.0.tar.gz',
      'mirror/github.com/mrkkrp/ahab/releases/download/v0.2.0/ahab-0.2.0.tar.gz',
    ]);
    expect(await bazelProxyParts.mirrorPackage(ctx, 'nope')).toBeNull();
  });
});

describe('a Bazel group of a hosted repo and a proxy', () => {
  const repos: RepoConfig[] = [
    { name: 'local', format: 'bazel', kind: 'hosted', visibility: 'public', mirrors: ['https://mirror.example/local'] },
    { name: 'bcr', format: 'bazel', kind: 'proxy', visibility: 'public', upstream: '' },
    { name: 'all', format: 'bazel', kind: 'group', visibility: 'public', members: ['bcr', 'local'] },
  ];
  const groupRepos = () => repos.map((r) => (r.kind === 'proxy' ? { ...r, upstream: up.url } : r));

  it("merges the members' mirrors into bazel_registry.json behind the group's own", async () => {
    const app = await larder(groupRepos());
    up.set('/bazel_registry.json', { body: '{"mirrors": ["https://up-mirror.example/"], "module_base_path": "relative"}' });
    const res = await get(app, '/all/bazel_registry.json');
    expect(JSON.parse(res.body)).toEqual({
      mirrors: ['https://larder.test/all/mirror', 'https://mirror.example/local', 'https://up-mirror.example/'],
    });
    // The hosted member's own file is served as it was written at creation.
    expect(JSON.parse((await get(app, '/local/bazel_registry.json')).body)).toEqual({ mirrors: ['https://mirror.example/local'] });
  });

  it('answers a module the hosted member holds from it alone (dependency confusion), others from the proxy', async () => {
    const app = await larder(groupRepos());
    const { payload, contentType } = await hostedPublishBody('ahab', '9.0.0');
    const put = await app.app.inject({
      method: 'PUT',
      url: '/local/api/modules/ahab/9.0.0',
      payload,
      headers: { 'content-type': contentType, authorization: `Bearer ${app.adminToken}` },
    });
    expect(put.statusCode).toBeLessThan(300);
    const meta = JSON.parse((await get(app, '/all/modules/ahab/metadata.json')).body) as { versions: string[] };
    expect(meta.versions).toEqual(['9.0.0']);
    expect((await get(app, '/all/modules/ahab/0.2.0/MODULE.bazel')).statusCode).toBe(404);
    const bzlws = await get(app, '/all/modules/bzlws/0.2.0/MODULE.bazel');
    expect(sha256(bzlws.rawPayload)).toBe(MANIFEST.get('modules/bzlws/0.2.0/MODULE.bazel'));
  });

  it('serves promised archives through the group mirror', async () => {
    const app = await larder(groupRepos(), { outbound: { allowPrivate: ['127.0.0.1'] } });
    await get(app, '/all/modules/demo/1.0/source.json');
    const res = await get(app, ARCHIVE_PATH().replace('/bcr/', '/all/'));
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload).toEqual(archive);
  });
});

describe('client setup', () => {
  it('tells a proxy or group user to use it as the only registry, and a hosted user to add the BCR after it', () => {
    const base = { format: 'bazel' as const, visibility: 'public' as const, id: 1 };
    const group = bazelClientSnippet({ ...base, name: 'all', kind: 'group' } as never, 'https://l.test/all');
    expect(group).toContain('common --registry=https://l.test/all');
    expect(group).not.toContain('--registry=https://bcr.bazel.build');
    expect(group).toContain('--module_mirrors=https://l.test/all/mirror');
    const hosted = bazelClientSnippet({ ...base, name: 'mine', kind: 'hosted' } as never, 'https://l.test/mine');
    expect(hosted).toContain('common --registry=https://bcr.bazel.build');
    expect(hosted).toContain('it sends .bcr/presubmit.yml (the CI matrix this registry requires');
    const loose = bazelClientSnippet(
      { ...base, name: 'mine', kind: 'hosted', bazelPolicy: { ...BCR_POLICY, requirePresubmit: false } } as never,
      'https://l.test/mine',
    );
    expect(loose).toContain('# publish: larder bazel publish --registry https://l.test/mine');
    expect(loose).not.toContain('presubmit');
  });
});
