/**
 * MoonBit proxies of a mooncakes-like upstream (a real git index over smart HTTP plus a fake download
 * host), through the Source API the routes read: zips verified against the index checksum, symbols.zip
 * revalidated by ETag, prebuilt Wasm verified against its `.sha256`, stale copies when the upstream is
 * down, and groups where a hosted module is never shadowed by the upstream's.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendVersion } from '../src/formats/moonbit/store.js';
import { archiveUrlPath } from '../src/formats/moonbit/names.js';
import { downloadBase } from '../src/formats/moonbit/proxy.js';
import { historyTip } from '../src/registry/git-history/state.js';
import type { Registry } from '../src/registry/registry.js';
import type { Source } from '../src/registry/source.js';
import { inTransaction } from '../src/registry/tx.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { moduleZip, startMoonbitUpstream, type MoonbitUpstream } from './support/moonbit-upstream.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function bytesOf(source: Source, key: string): Promise<Buffer | null> {
  const found = await source.artifact(key);
  if (!found) return null;
  const chunks: Buffer[] = [];
  for await (const c of found.blob.stream()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Publishes a module version to a hosted repo the way the publish route does (store.ts `appendVersion`). */
async function publish(registry: Registry, repoName: string, module: string, version: string): Promise<Buffer> {
  const zip = Buffer.concat([moduleZip(module, version), Buffer.from('hosted')]);
  const staged = await registry.blobs.stage(Readable.from([zip]));
  const line = Buffer.from(JSON.stringify({ name: module, version, deps: {}, checksum: staged.sha256 }));
  await inTransaction(registry, (uow) =>
    appendVersion(uow, registry, registry.repos.get(repoName)!, { module, version, line, staged, description: null, publishedBy: null }),
  );
  return zip;
}

async function storedArtifacts(registry: Registry, repo: string): Promise<string[]> {
  const rows = await registry.db
    .selectFrom('proxy_artifacts')
    .select('key')
    .where('repo_id', '=', registry.repos.get(repo)!.id)
    .orderBy('key')
    .execute();
  return rows.map((r) => r.key);
}

const WASM = Buffer.from('\0asm\x01\0\0\0 prebuilt moonfmt');
const WASM_PATH = '/assets/moonbitlang/parser@0.3.3/cmd/moonfmt/moonfmt.wasm';
const WASM_KEY = WASM_PATH.slice(1);

describe('download base', () => {
  it('is download.mooncakes.io for mooncakes.io and the upstream itself for any other registry', () => {
    expect(downloadBase('https://mooncakes.io')).toBe('https://download.mooncakes.io');
    expect(downloadBase('https://mirror.example/moonbit')).toBe('https://mirror.example/moonbit');
  });
});

describe('a MoonBit proxy', () => {
  let up: MoonbitUpstream;
  let t: TestApp;
  let p: Source;
  let json: { checksum: string; zip: Buffer };

  beforeAll(async () => {
    up = await startMoonbitUpstream();
    json = up.module('alice/json', '0.1.0', { deps: { 'alice/utf8': '0.1.0', 'moonbitlang/core': '0.1.0' } });
    up.module('alice/utf8', '0.1.0', { deps: null });
    up.module('alice/gone', '1.0.0');
    up.files.set(`/${archiveUrlPath('alice/gone', '1.0.0')}`, null);
    up.module('bob/模块', '0.1.0+build.1');
    up.files.set('/symbols.zip', { body: 'symbols v1' });
    up.files.set(`${WASM_PATH}.sha256`, { body: `${sha256(WASM)}  moonfmt.wasm\n` });
    up.files.set(WASM_PATH, { body: WASM });
    await up.commit();
    t = await openTestApp({
      repos: [
        { name: 'p', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url },
        // Revalidates on every read: symbols.zip and the git index are asked each time.
        { name: 'p0', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url, ttl: 0 },
      ],
    });
    p = t.registry.sources.get('p')!;
  });
  afterAll(async () => {
    await t.stop();
    await up.close();
  });

  it('pulls a zip through once, verified against the index checksum, and serves it from storage after', async () => {
    const path = `/${archiveUrlPath('alice/json', '0.1.0')}`;
    expect(await bytesOf(p, 'alice/json/0.1.0')).toEqual(json.zip);
    expect(await bytesOf(p, 'alice/json/0.1.0')).toEqual(json.zip);
    expect(up.files.hits(path)).toBe(1);
    // Non-ASCII names and `+` in versions reach the upstream as moon encodes them.
    const cjk = await p.artifact('bob/模块/0.1.0+build.1');
    expect(cjk?.size).toBeGreaterThan(0);
    expect(up.files.hits('/user/bob%2F%E6%A8%A1%E5%9D%97%2F0.1.0%2Bbuild.1.zip')).toBe(1);
  });

  it('answers null (a 404) for a version the index does not list without asking the upstream, and for a zip the upstream lacks', async () => {
    const before = up.files.requests.length;
    expect(await p.artifact('alice/json/9.9.9')).toBeNull();
    expect(await p.artifact('nobody/json/0.1.0')).toBeNull();
    expect(up.files.requests.length).toBe(before);
    expect(await p.artifact('alice/gone/1.0.0')).toBeNull();
    expect(await storedArtifacts(t.registry, 'p')).not.toContain('alice/gone/1.0.0');
  });

  it('refuses a tampered zip with UPSTREAM_INTEGRITY (502), stores nothing, and takes the right bytes later', async () => {
    const path = `/${archiveUrlPath('alice/utf8', '0.1.0')}`;
    up.files.fault(path, { kind: 'wrong-bytes' }, { times: 1 });
    const err = await p.artifact('alice/utf8/0.1.0').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_INTEGRITY', status: 502 });
    expect((err as Error).message).toContain('module alice/utf8@0.1.0');
    expect(await storedArtifacts(t.registry, 'p')).not.toContain('alice/utf8/0.1.0');
    expect((await p.artifact('alice/utf8/0.1.0'))?.sha256).toBe(sha256((await bytesOf(p, 'alice/utf8/0.1.0'))!));
  });

  it('stores nothing when a zip download breaks off or the upstream errors, and says so with a 502', async () => {
    up.module('alice/big', '1.0.0', { zip: Buffer.alloc(200_000, 7) });
    await up.commit();
    const p0 = t.registry.sources.get('p0')!;
    const path = `/${archiveUrlPath('alice/big', '1.0.0')}`;
    for (const fault of [{ kind: 'truncate' as const }, { kind: 'reset' as const }, { kind: 'status' as const, status: 403 }]) {
      up.files.fault(path, fault, { times: 10 });
      const err = await p0.artifact('alice/big/1.0.0').catch((e: unknown) => e);
      expect(err, fault.kind).toMatchObject({ code: 'UPSTREAM_FAILED', status: 502 });
      up.files.clearFaults(path);
    }
    expect(await storedArtifacts(t.registry, 'p0')).toEqual([]);
    expect((await p0.artifact('alice/big/1.0.0'))?.size).toBe(200_000);
  });

  it('proxies symbols.zip from the download base, revalidating with the upstream ETag (a 304 refreshes)', async () => {
    const p0 = t.registry.sources.get('p0')!;
    const first = await p0.doc('symbols.zip');
    expect(first?.body.toString()).toBe('symbols v1');
    const again = await p0.doc('symbols.zip');
    expect(again?.body.toString()).toBe('symbols v1');
    expect(again?.etag).toBe(first?.etag);
    const asked = up.files.requests.filter((r) => r.path === '/symbols.zip');
    expect(asked.length).toBe(2);
    // The second request was conditional, with the ETag the upstream gave.
    expect(asked[1]!.headers['if-none-match']).toBe(asked.length && (await fetch(`${up.url}/symbols.zip`)).headers.get('etag'));
    up.files.set('/symbols.zip', { body: 'symbols v2' });
    const changed = await p0.doc('symbols.zip');
    expect(changed?.body.toString()).toBe('symbols v2');
    expect(changed?.etag).not.toBe(first?.etag);
  });

  it('serves the held symbols.zip marked stale when the upstream errors or resets, and a 404 when it never had one', async () => {
    const p0 = t.registry.sources.get('p0')!;
    const held = await p0.doc('symbols.zip');
    for (const fault of [{ kind: 'status' as const, status: 503 }, { kind: 'reset' as const }]) {
      up.files.fault('/symbols.zip', fault, { times: 20 });
      const stale = await p0.doc('symbols.zip');
      expect(stale?.stale, fault.kind).toBe(true);
      expect(stale?.body).toEqual(held?.body);
      up.files.clearFaults('/symbols.zip');
      // After the first failure the held copy is served for a while without asking (no storm of requests).
    }
    up.files.set('/symbols.zip', null);
    expect(await t.registry.sources.get('p')!.doc('symbols.zip')).toBeNull();
    up.files.set('/symbols.zip', { body: 'symbols v2' });
  });

  it('pulls prebuilt Wasm through: the .sha256 first, then the Wasm verified against its first token', async () => {
    up.files.resetHits();
    expect(await bytesOf(p, WASM_KEY)).toEqual(WASM);
    expect(up.files.requests.map((r) => r.path)).toEqual([`${WASM_PATH}.sha256`, WASM_PATH]);
    expect((await bytesOf(p, `${WASM_KEY}.sha256`))?.toString()).toBe(`${sha256(WASM)}  moonfmt.wasm\n`);
    expect(up.files.requests).toHaveLength(2);
  });

  it('refuses a Wasm that does not match its .sha256, or a .sha256 that is not one; answers null when the upstream has none', async () => {
    const dir = '/assets/alice/tool@1.0.0';
    up.files.set(`${dir}/tool.wasm.sha256`, { body: `${'0'.repeat(64)}\n` });
    up.files.set(`${dir}/tool.wasm`, { body: WASM });
    const err = await p.artifact('assets/alice/tool@1.0.0/tool.wasm').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_INTEGRITY', status: 502 });

    up.files.set(`${dir}/cmd/x/x.wasm.sha256`, { body: '<html>not found</html>' });
    const bad = await p.artifact('assets/alice/tool@1.0.0/cmd/x/x.wasm.sha256').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'UPSTREAM_INTEGRITY' });
    expect((bad as Error).message).toContain('is not a checksum file');

    expect(await p.artifact('assets/alice/tool@1.0.0/none.wasm')).toBeNull();
    expect(await p.artifact('assets/alice/tool@1.0.0/../../x.wasm')).toBeNull();
    expect((await storedArtifacts(t.registry, 'p')).filter((k) => k.startsWith('assets/alice/tool'))).toEqual([
      'assets/alice/tool@1.0.0/tool.wasm.sha256',
    ]);
  });

  it('serves the last synced index marked stale while the upstream is down', async () => {
    const p0 = t.registry.sources.get('p0')!;
    const fresh = await p0.doc('user/alice/json.index');
    expect(fresh?.stale).toBe(false);
    expect(fresh?.body.toString()).toContain(json.checksum);
    await up.stop();
    try {
      const stale = await p0.doc('user/alice/json.index');
      expect(stale?.stale).toBe(true);
      expect(stale?.body).toEqual(fresh?.body);
      expect((await p0.gitHistory('index')).stale).toBe(true);
      // Stored zips are served as ever.
      expect(await bytesOf(p0, 'alice/big/1.0.0')).toHaveLength(200_000);
    } finally {
      await up.start();
    }
  });
});

describe('a MoonBit proxy that never synced', () => {
  it('answers UPSTREAM_FAILED (502) while its upstream is down, never a 404', async () => {
    const up = await startMoonbitUpstream();
    up.module('alice/json', '0.1.0');
    await up.commit();
    await up.stop();
    const t = await openTestApp({ repos: [{ name: 'p', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url }] });
    try {
      const p = t.registry.sources.get('p')!;
      await expect(p.doc('user/alice/json.index')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', status: 502 });
      await expect(p.gitHistory('index')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED' });
      await up.start();
      // With nothing held, the next read asks again at once.
      expect((await p.artifact('alice/json/0.1.0'))?.size).toBeGreaterThan(0);
    } finally {
      await t.stop();
      await up.close();
    }
  });

  it('refuses cooldown with a clear CONFIG_INVALID: a git index cannot hide versions', async () => {
    await expect(
      openTestApp({
        repos: [
          { name: 'p', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: 'https://mooncakes.io', cooldown: 86_400_000 },
        ],
      }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('moonbit proxies cannot honour cooldown') as unknown,
    });
  });
});

describe('a group of a hosted repo and a MoonBit proxy', () => {
  let up: MoonbitUpstream;
  let t: TestApp;
  let g: Source;
  let hostedZip: Buffer;
  let upstreamX: { checksum: string; zip: Buffer };

  beforeAll(async () => {
    up = await startMoonbitUpstream();
    upstreamX = up.module('alice/x', '0.1.0');
    up.module('bob/y', '1.0.0');
    await up.commit();
    t = await openTestApp({
      repos: [
        { name: 'h', format: 'moonbit', kind: 'hosted', visibility: 'public' },
        { name: 'p', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url },
        // The proxy listed first: hosted members still come first.
        { name: 'g', format: 'moonbit', kind: 'group', visibility: 'public', members: ['p', 'h'] },
      ],
    });
    hostedZip = await publish(t.registry, 'h', 'alice/x', '0.1.0');
    g = t.registry.sources.get('g')!;
  });
  afterAll(async () => {
    await t.stop();
    await up.close();
  });

  it("serves the hosted module's index file and zip, never the upstream's of the same name", async () => {
    const doc = await g.doc('user/alice/x.index');
    expect(doc?.body.toString()).toContain(sha256(hostedZip));
    expect(doc?.body.toString()).not.toContain(upstreamX.checksum);
    expect(await bytesOf(g, 'alice/x/0.1.0')).toEqual(hostedZip);
    expect(up.files.hits(`/${archiveUrlPath('alice/x', '0.1.0')}`)).toBe(0);
  });

  it('serves a module only the upstream has from the proxy, in documents and zips', async () => {
    expect((await g.doc('user/bob/y.index'))?.body.toString()).toContain('"bob/y"');
    expect((await g.artifact('bob/y/1.0.0'))?.size).toBeGreaterThan(0);
  });

  it("unites the git index: the hosted file for alice/x, the upstream's for bob/y; a hosted publish is one more commit", async () => {
    const { ref } = await g.gitHistory('index');
    const tip = await historyTip(t.registry.db, ref);
    expect(Buffer.from(tip.files.get('user/alice/x.index')!.data).toString()).toContain(sha256(hostedZip));
    expect(tip.files.has('user/bob/y.index')).toBe(true);
    await g.gitHistory('index');
    expect((await historyTip(t.registry.db, ref)).head).toBe(tip.head);
    await publish(t.registry, 'h', 'alice/x', '0.2.0');
    await g.gitHistory('index');
    const next = await historyTip(t.registry.db, ref);
    expect(next.head).toBeGreaterThan(tip.head);
    expect(Buffer.from(next.files.get('user/alice/x.index')!.data).toString()).toContain('"0.2.0"');
  });
});
