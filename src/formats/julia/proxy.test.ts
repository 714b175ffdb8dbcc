/**
 * Julia proxy and group repos against a fake upstream Pkg server serving a real registry tarball
 * (../shared/fixtures/julia/HolyLabRegistry) and package/artifact tarballs made here.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { juliaPackageTarball } from '../../../test/support/julia.js';
import {
  BAR,
  BAZ,
  file,
  FOO,
  HOLYLAB,
  HOLYLAB_TREE,
  HOSTED_REG,
  registriesBody,
  serveJuliaUpstream,
  SMALL,
  tarballOf,
  type BuiltTarball,
} from '../../../test/support/julia-upstream.js';
import type { Registry } from '../../registry/registry.js';
import type { ProxySource } from '../../upstream/proxy-source.js';
import { parse as parseToml } from 'smol-toml';
import { artifactHashes } from './proxy.js';
import { treeFromTarball } from './tarball.js';
import { tarTreeHashes, treeHash } from './tree-hash.js';

let up: FakeUpstream;
let larder: TestApp;
let holyTarball: Buffer;
let smallTarball: Buffer;
let smallTree: string;
let artifact: BuiltTarball;
let bar: BuiltTarball;
let fooUpstream: BuiltTarball;
let fooHosted: string;
let warn: MockInstance<Registry['log']['warn']>;
const auth = () => ({ authorization: `Bearer ${larder.adminToken}` });
const get = (url: string) => larder.app.inject({ method: 'GET', url });

beforeAll(async () => {
  up = await startFakeUpstream();
  const served = await serveJuliaUpstream(up);
  ({ holyTarball, artifact, bar, fooUpstream } = served);
  smallTarball = served.small.tarball;
  smallTree = served.small.tree;

  larder = await openTestApp({
    repos: [
      { name: 'up', format: 'julia', kind: 'proxy', visibility: 'public', upstream: up.url, ttl: 50 },
      { name: 'off', format: 'julia', kind: 'proxy', visibility: 'public', upstream: up.url, offline: true },
      { name: 'mine', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'all', format: 'julia', kind: 'group', visibility: 'public', members: ['up', 'mine'] },
    ],
    outbound: { allowPrivate: ['127.0.0.1'], retries: 0 },
  });
  const created = await larder.app.inject({
    method: 'POST',
    url: '/mine/api/registries',
    payload: { name: 'Team', uuid: HOSTED_REG },
    headers: auth(),
  });
  expect(created.statusCode, created.body).toBe(201);
  const registered = await larder.app.inject({
    method: 'PUT',
    url: `/mine/api/registries/${HOSTED_REG}/packages`,
    payload: await juliaPackageTarball('Foo', FOO, '0.1.0'),
    headers: { ...auth(), 'content-type': 'application/gzip' },
  });
  expect(registered.statusCode, registered.body).toBe(201);
  fooHosted = (JSON.parse(registered.body) as { packageTree: string }).packageTree;
  // Baz is in both registries too, and each lists the other in Baz's trusted_registries.
  const baz = await larder.app.inject({
    method: 'PUT',
    url: `/mine/api/registries/${HOSTED_REG}/packages?trusted_registries=${SMALL}`,
    payload: await juliaPackageTarball('Baz', BAZ, '0.1.0'),
    headers: { ...auth(), 'content-type': 'application/gzip' },
  });
  expect(baz.statusCode, baz.body).toBe(201);
  warn = vi.spyOn(larder.registry.log, 'warn');
});
afterEach(() => up.clearFaults());
afterAll(async () => {
  await larder?.stop();
  await up?.close();
});

async function storedKeys(repo: string): Promise<string[]> {
  const rows = await larder.registry.db
    .selectFrom('proxy_artifacts')
    .select('key')
    .where('repo_id', '=', larder.registry.repos.get(repo)!.id)
    .execute();
  return rows.map((r) => r.key).sort();
}

describe('julia proxy', () => {
  it('lists what the upstream lists and serves its registry tarball byte for byte, tree hash as Pkg checks it', async () => {
    const list = await get('/up/registries');
    expect(list.statusCode).toBe(200);
    expect(list.body).toBe(`/registry/${HOLYLAB}/${HOLYLAB_TREE}\n`);
    const reg = await get(`/up/registry/${HOLYLAB}/${HOLYLAB_TREE}`);
    expect(reg.statusCode).toBe(200);
    expect(reg.headers['content-encoding']).toBeUndefined();
    expect(reg.rawPayload.equals(holyTarball)).toBe(true);
    expect((await tarTreeHashes(Readable.from([gunzipSync(reg.rawPayload)]))).keepEmpty).toBe(HOLYLAB_TREE);
    // Stored: a second request does not reach the upstream.
    const hits = up.hits(`/registry/${HOLYLAB}/${HOLYLAB_TREE}`);
    expect((await get(`/up/registry/${HOLYLAB}/${HOLYLAB_TREE}`)).rawPayload.equals(holyTarball)).toBe(true);
    expect(up.hits(`/registry/${HOLYLAB}/${HOLYLAB_TREE}`)).toBe(hits);
  });

  it('serves package and artifact tarballs byte for byte, verified by the tree of what they extract to', async () => {
    const pkg = await get(`/up/package/${BAR}/${bar.tree}`);
    expect(pkg.statusCode).toBe(200);
    expect(pkg.rawPayload.equals(bar.tarball)).toBe(true);
    const tree = await treeFromTarball(pkg.rawPayload, { maxUnpackedSize: 1 << 20, maxEntries: 100 });
    expect(treeHash(tree)).toBe(bar.tree);
    expect(up.requests.find((r) => r.path === `/package/${BAR}/${bar.tree}`)?.headers['accept-encoding']).toBe('gzip');
    const art = await get(`/up/artifact/${artifact.tree}`);
    expect(art.statusCode).toBe(200);
    expect(art.rawPayload.equals(artifact.tarball)).toBe(true);
  });

  it('refuses a tarball whose tree hash is not the one its path names (502, nothing stored), then takes a correct one', async () => {
    const other = await tarballOf(new Map([['x', file('x')]]));
    const wrongPath = `/package/${BAR}/${other.tree.replace(/^./, (c) => (c === '0' ? '1' : '0'))}`;
    const key = wrongPath.slice(1);
    up.set(wrongPath, { body: other.tarball });
    const blobsBefore = await larder.registry.db.selectFrom('blobs').select('sha256').execute();
    const res = await get(`/up${wrongPath}`);
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain('tree hash');
    expect(await storedKeys('up')).not.toContain(key);
    expect((await larder.registry.db.selectFrom('blobs').select('sha256').execute()).length).toBe(blobsBefore.length);
    // The same key again: asked again (a refusal is not remembered as absence), and still refused.
    expect((await get(`/up${wrongPath}`)).statusCode).toBe(502);

    // A wrong answer first, then the right bytes: the second request succeeds.
    const good = await tarballOf(new Map([['y', file('good\n')]]));
    up.set(`/artifact/${good.tree}`, [{ body: other.tarball }, { body: good.tarball }]);
    expect((await get(`/up/artifact/${good.tree}`)).statusCode).toBe(502);
    const ok = await get(`/up/artifact/${good.tree}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.rawPayload.equals(good.tarball)).toBe(true);
  });

  it('refuses a large damaged tarball as soon as it fails to inflate, without stalling the download', async () => {
    const junk = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), randomBytes(3 << 20)]);
    const p = `/artifact/${'d'.repeat(40)}`;
    up.set(p, { body: junk });
    const res = await get(`/up${p}`);
    expect(res.statusCode).toBe(502);
    expect(await storedKeys('up')).not.toContain(p.slice(1));
  });

  it('answers a truncated download with 502 and stores nothing; the next complete one is served', async () => {
    const t = await tarballOf(new Map([['big.bin', file('z'.repeat(200_000))]]));
    up.set(`/artifact/${t.tree}`, { body: t.tarball });
    up.fault(`/artifact/${t.tree}`, { kind: 'truncate' }, { times: 1 });
    expect((await get(`/up/artifact/${t.tree}`)).statusCode).toBe(502);
    expect(await storedKeys('up')).not.toContain(`artifact/${t.tree}`);
    const ok = await get(`/up/artifact/${t.tree}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.rawPayload.equals(t.tarball)).toBe(true);
  });

  it('fetches one package tarball once for concurrent requests (single flight)', async () => {
    const t = await tarballOf(new Map([['s', file('single flight\n')]]));
    const p = `/package/${BAR}/${t.tree}`;
    up.set(p, { body: t.tarball });
    up.fault(p, { kind: 'slow', ms: 300 }, { times: 1 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(`/up${p}`)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(6).fill(200));
    expect(answers.every((a) => a.rawPayload.equals(t.tarball))).toBe(true);
    expect(up.hits(p)).toBe(1);
  });

  it('answers an unknown artifact with 404, then again without asking the upstream (negative cache)', async () => {
    const p = `/artifact/${'e'.repeat(40)}`;
    expect((await get(`/up${p}`)).statusCode).toBe(404);
    const hits = up.hits(p);
    expect(hits).toBe(1);
    const t0 = Date.now();
    expect((await get(`/up${p}`)).statusCode).toBe(404);
    expect(Date.now() - t0).toBeLessThan(200);
    expect(up.hits(p)).toBe(hits);
  });

  it('refuses registrations on a proxy (405: it is read-only)', async () => {
    const res = await larder.app.inject({
      method: 'POST',
      url: '/up/api/registries',
      payload: { name: 'X', uuid: SMALL },
      headers: auth(),
    });
    expect(res.statusCode).toBe(405);
  });

  it('offline: serves only what is cached and never asks the upstream', async () => {
    up.resetHits();
    expect((await get('/off/registries')).body).toBe('');
    expect((await get(`/off/package/${BAR}/${bar.tree}`)).statusCode).toBe(404);
    expect(up.requests.length).toBe(0);
  });

  it('mirrors a package: registry, every version, its artifacts; names its dependencies', async () => {
    up.set('/registries', {
      body: registriesBody([
        [HOLYLAB, HOLYLAB_TREE],
        [SMALL, smallTree],
      ]),
    });
    const source = larder.registry.sources.get('up') as ProxySource;
    await new Promise((r) => setTimeout(r, 80));
    const plan = await larder.registry.formats.get('julia')!.parts.proxy!.mirrorPackage(source.context, 'Bar');
    expect(plan).toEqual({
      artifacts: [`registry/${SMALL}/${smallTree}`, `package/${BAR}/${bar.tree}`, `artifact/${artifact.tree}`],
      dependencies: ['Foo', 'Random'],
    });
    expect(await larder.registry.formats.get('julia')!.parts.proxy!.mirrorPackage(source.context, BAR)).toEqual(plan);
    expect(await larder.registry.formats.get('julia')!.parts.proxy!.mirrorPackage(source.context, 'Nope')).toBeNull();
    const names: string[] = [];
    for await (const n of larder.registry.formats.get('julia')!.parts.proxy!.listPackages!(source.context)) names.push(n);
    expect(names.length).toBe(76 + 3);
    expect(names).toContain('Bar');
  });
});

describe('artifactHashes', () => {
  it('reads plain [name] tables and platform [[name]] arrays, each hash once', () => {
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const toml = parseToml(
      `[data]\ngit-tree-sha1 = "${a}"\nlazy = true\n\n[[Lib]]\narch = "x86_64"\ngit-tree-sha1 = "${b}"\n\n[[Lib]]\narch = "aarch64"\ngit-tree-sha1 = "${a}"\n\n[bad]\ngit-tree-sha1 = "nothex"\n`,
    );
    expect(artifactHashes(toml)).toEqual([a, b]);
  });
});

describe('julia group', () => {
  it('merges /registries: one line per registry UUID, sorted, newline-terminated', async () => {
    up.set('/registries', {
      body: registriesBody([
        [SMALL, smallTree],
        [HOLYLAB, HOLYLAB_TREE],
      ]),
    });
    await new Promise((r) => setTimeout(r, 80));
    const res = await get('/all/registries');
    expect(res.statusCode).toBe(200);
    const hosted = (await get('/mine/registries')).body.trim();
    expect(res.body).toBe(
      [`${hosted}\n`, `/registry/${SMALL}/${smallTree}\n`, `/registry/${HOLYLAB}/${HOLYLAB_TREE}\n`]
        .sort((a, b) => (a.split('/')[2]! < b.split('/')[2]! ? -1 : 1))
        .join(''),
    );
    // Every line leads to a tarball the group serves.
    for (const line of res.body.trim().split('\n')) expect((await get(`/all${line}`)).statusCode).toBe(200);
    expect((await get(`/all/registry/${SMALL}/${smallTree}`)).rawPayload.equals(smallTarball)).toBe(true);
  });

  it('warns and counts a package two listed registries share without trusting each other, as Pkg does', async () => {
    expect((await get('/all/registries')).body).toContain(SMALL);
    const conflicts = async () =>
      (await larder.registry.metrics.registryConflicts.get()).values.find((v) => v.labels.repo === 'all')?.value ?? 0;
    await vi.waitFor(async () => expect(await conflicts()).toBe(1), { timeout: 5000 });
    const messages = warn.mock.calls.map((c) => String(c[1]));
    expect(messages.filter((m) => m.includes(`Foo (${FOO})`))).toHaveLength(1);
    expect(messages.some((m) => m.includes('Baz'))).toBe(false);
    // Asked again, the same conflict is not counted twice.
    await get('/all/registries');
    await new Promise((r) => setTimeout(r, 100));
    expect(await conflicts()).toBe(1);
  });

  it('checks a listing once for every node: a second node on the same data reports the conflict without reading tarballs', async () => {
    const second = await openTestApp({
      repos: larder.registry.config.repos,
      outbound: { allowPrivate: ['127.0.0.1'], retries: 0 },
      data: larder.data,
    });
    try {
      // Both apps log through one silent logger, which `warn` spies on.
      const fooWarnings = () => warn.mock.calls.map((c) => String(c[1])).filter((m) => m.includes(`Foo (${FOO})`)).length;
      const warned = fooWarnings();
      const opened = vi.spyOn(second.registry.blobs, 'open');
      expect((await second.app.inject({ method: 'GET', url: '/all/registries' })).body).toContain(SMALL);
      const conflicts = async () =>
        (await second.registry.metrics.registryConflicts.get()).values.find((v) => v.labels.repo === 'all')?.value ?? 0;
      await vi.waitFor(async () => expect(await conflicts()).toBe(1), { timeout: 5000 });
      expect(fooWarnings()).toBe(warned + 1);
      expect(opened).not.toHaveBeenCalled();
    } finally {
      await second.stop();
    }
  });

  it('answers a package UUID a hosted member holds from that member only', async () => {
    up.resetHits();
    const hosted = await get(`/all/package/${FOO}/${fooHosted}`);
    expect(hosted.statusCode).toBe(200);
    expect(hosted.rawPayload.equals((await get(`/mine/package/${FOO}/${fooHosted}`)).rawPayload)).toBe(true);
    // The upstream's Foo (same UUID) is never served through the group.
    expect((await get(`/all/package/${FOO}/${fooUpstream.tree}`)).statusCode).toBe(404);
    expect(up.hits(`/package/${FOO}/${fooUpstream.tree}`)).toBe(0);
    // Other packages come from the proxy member.
    expect((await get(`/all/package/${BAR}/${bar.tree}`)).rawPayload.equals(bar.tarball)).toBe(true);
  });
});

// Last: after an upstream failure the proxy serves its held copy for a while without asking again.
describe('julia proxy, upstream down', () => {
  it('answers 502 (never 404) when the upstream is down and nothing is cached; serves the last /registries marked stale', async () => {
    const held = await get('/up/registries');
    expect(held.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 80)); // past the 50 ms TTL
    await up.stop();
    try {
      const stale = await get('/up/registries');
      expect(stale.statusCode).toBe(200);
      expect(stale.headers['x-larder-stale']).toBeDefined();
      expect(stale.body).toBe(held.body);
      const missing = await get(`/up/package/${BAR}/${'c'.repeat(40)}`);
      expect(missing.statusCode).toBe(502);
      // A proxy that never fetched /registries has nothing to fall back on.
      const fresh = await openTestApp({
        repos: [{ name: 'p', format: 'julia', kind: 'proxy', visibility: 'public', upstream: up.url }],
        outbound: { allowPrivate: ['127.0.0.1'], retries: 0 },
      });
      try {
        expect((await fresh.app.inject({ method: 'GET', url: '/p/registries' })).statusCode).toBe(502);
      } finally {
        await fresh.stop();
      }
    } finally {
      await up.start();
    }
  });
});
