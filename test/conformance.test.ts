/**
 * One suite, every format × kind: a package published to a hosted repo, the same package read
 * through a proxy of another Larder's hosted repo (behind a fake upstream that can fail), and through
 * a group of an empty hosted repo and that proxy. Each case asserts what the format's client sees.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_FORMATS, forwardTo, type PublishedPackage } from './support/conformance.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { openTestApp, type TestApp } from './support/larder.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.each(CONFORMANCE_FORMATS)('$format', (f) => {
  let up: FakeUpstream;
  let origin: TestApp;
  let t: TestApp;
  let upstreamPkg: PublishedPackage;
  let hostedPkg: PublishedPackage;
  const originBytes = new Map<string, Buffer>();

  beforeAll(async () => {
    up = await startFakeUpstream();
    // The upstream is another Larder's hosted repo, its files copied into the fake upstream at the same URLs.
    origin = await openTestApp({ repos: [{ name: 'origin', format: f.format, kind: 'hosted', visibility: 'public' }], publicUrl: up.url });
    upstreamPkg = await f.publish(origin, 'origin', 'alpha');
    // What cannot be copied as files (a git index) is answered live by the origin, through the same faults.
    for (const prefix of f.forward ?? []) up.forward(`/origin/${prefix}`, forwardTo(origin.app));
    for (const p of [...upstreamPkg.repoDocs, upstreamPkg.doc, upstreamPkg.artifact, ...upstreamPkg.extra]) {
      const res = await origin.app.inject({ method: 'GET', url: `/origin/${p}` });
      expect(res.statusCode, `${p}: ${res.body}`).toBe(200);
      originBytes.set(p, res.rawPayload);
      up.set(`/origin/${p}`, { body: res.rawPayload, headers: { 'content-type': String(res.headers['content-type']) } });
    }
    t = await openTestApp({
      repos: [
        { name: 'h', format: f.format, kind: 'hosted', visibility: 'public' },
        { name: 'p', format: f.format, kind: 'proxy', visibility: 'public', upstream: `${up.url}/origin/${f.root}`, ttl: 100 },
        { name: 'e', format: f.format, kind: 'hosted', visibility: 'public' },
        { name: 'g', format: f.format, kind: 'group', visibility: 'public', members: ['e', 'p'] },
        { name: 'sealed', format: f.format, kind: 'proxy', visibility: 'private', upstream: `${up.url}/origin/${f.root}` },
      ],
      // Archive URLs named by documents keep the address rules; this upstream is on loopback.
      outbound: { allowPrivate: ['127.0.0.1'] },
    });
    hostedPkg = await f.publish(t, 'h', 'alpha');
  });
  afterAll(async () => {
    await t?.stop();
    await origin?.stop();
    await up?.close();
  });

  const viaProxy = (p: PublishedPackage): PublishedPackage => ({ ...p, artifact: p.proxiedArtifact ?? p.artifact });
  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });
  const kinds = [
    { kind: 'hosted', repo: 'h', pkg: () => hostedPkg, upstream: false },
    { kind: 'proxy', repo: 'p', pkg: () => viaProxy(upstreamPkg), upstream: true },
    { kind: 'group', repo: 'g', pkg: () => viaProxy(upstreamPkg), upstream: true },
  ];

  describe.each(kinds)('$kind', ({ repo, pkg, upstream }) => {
    it('serves the package document with an ETag, and 304 for a current copy', async () => {
      const res = await get(`/${repo}/${pkg().doc}`);
      expect(res.statusCode, res.body).toBe(200);
      if (upstream) expect(res.rawPayload.equals(originBytes.get(pkg().doc)!)).toBe(true);
      const etag = String(res.headers.etag);
      expect(etag).toMatch(/^"/);
      expect((await get(`/${repo}/${pkg().doc}`, { 'if-none-match': etag })).statusCode).toBe(304);
    });

    it('serves the archive byte for byte, immutable, with HEAD and Range', async () => {
      // As clients do, the documents naming the archive are read first (Bazel: source.json).
      for (const p of pkg().extra) expect((await get(`/${repo}/${p}`)).statusCode).toBe(200);
      const res = await get(`/${repo}/${pkg().artifact}`);
      expect(res.statusCode, res.body).toBe(200);
      if (upstream) expect(sha256(res.rawPayload)).toBe(sha256(originBytes.get(upstreamPkg.artifact)!));
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers['cache-control']).toMatch(/immutable/);
      const head = await t.app.inject({ method: 'HEAD', url: `/${repo}/${pkg().artifact}` });
      expect(head.headers['content-length']).toBe(String(res.rawPayload.length));
      const range = await get(`/${repo}/${pkg().artifact}`, { range: 'bytes=0-9' });
      expect(range.statusCode).toBe(206);
      expect(range.rawPayload.equals(res.rawPayload.subarray(0, 10))).toBe(true);
    });

    it('answers a package nobody has with a 404 in the client’s error shape', async () => {
      const res = await get(`/${repo}/${f.missing('nonesuch')}`);
      expect(res.statusCode).toBe(404);
      expect(f.errorText(res)).not.toBe('');
    });
  });

  describe.each(kinds.filter((k) => k.upstream))('$kind is read-only', ({ repo }) => {
    it('refuses a write with 405 in the client’s error shape, naming the repository', async () => {
      const before = upstreamHits();
      const res = await t.app.inject({
        method: f.write.method,
        url: `/${repo}/${f.write.url}`,
        payload: f.write.payload as Buffer,
        headers: { authorization: `Bearer ${t.adminToken}`, ...f.write.headers },
      });
      expect(res.statusCode, res.body).toBe(405);
      expect(f.writeErrorText(res)).toMatch(new RegExp(`${repo} is a .*read-only`));
      expect(upstreamHits()).toBe(before);
    });
  });

  it('a private proxy answers nothing without a token, and serves with one', async () => {
    const denied = await get(`/sealed/${upstreamPkg.doc}`);
    expect(denied.statusCode).toBe(f.deniedStatus ?? 401);
    expect(f.errorText(denied)).not.toBe('');
    const allowed = await get(`/sealed/${upstreamPkg.doc}`, { authorization: `Bearer ${t.adminToken}` });
    expect(allowed.statusCode, allowed.body).toBe(200);
  });

  describe('when the upstream goes down', () => {
    beforeAll(async () => {
      // Everything the client needs is cached first, then the upstream stops answering.
      for (const repo of ['p', 'g']) {
        const pkg = viaProxy(upstreamPkg);
        for (const p of [...pkg.repoDocs, pkg.doc, ...pkg.extra, pkg.artifact]) await get(`/${repo}/${p}`);
      }
      await up.stop();
      await new Promise((r) => setTimeout(r, 150));
    });

    it.each(['p', 'g'])('%s serves its last copy of a document past its TTL, flagged stale', async (repo) => {
      const res = await get(`/${repo}/${upstreamPkg.doc}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.rawPayload.equals(originBytes.get(upstreamPkg.doc)!)).toBe(true);
      expect(res.headers['x-larder-stale']).toBeDefined();
    });

    it.each(['p', 'g'])('%s still serves a stored archive', async (repo) => {
      const res = await get(`/${repo}/${viaProxy(upstreamPkg).artifact}`);
      expect(res.statusCode).toBe(200);
    });

    it.each(['p', 'g'])('%s answers what it never cached with a 5xx, never a 404', async (repo) => {
      const res = await get(`/${repo}/${f.missing(`never${repo}`)}`);
      if (f.wholeIndex) {
        // The whole index was copied at the last sync: what it lacks is absent (moon resolves from it too).
        expect(res.statusCode).toBe(404);
        expect(f.errorText(res)).not.toBe('');
        return;
      }
      expect([502, 504]).toContain(res.statusCode);
      expect(f.errorText(res)).toMatch(/upstream/);
    });
  });

  const upstreamHits = () => up.requests.length;
});
