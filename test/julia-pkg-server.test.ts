/**
 * A hosted Julia registry imported from a real registry (../shared/fixtures/julia/HolyLabRegistry)
 * and served by the Pkg server protocol, checked the way Pkg checks it (protocols/julia.md §3–§5).
 */
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importJuliaRegistry } from '../src/formats/julia/import.js';
import { tarTreeHashes } from '../src/formats/julia/tree-hash.js';
import { openTestApp, type TestApp } from './support/larder.js';

const FIXTURE = path.resolve('../shared/fixtures/julia/HolyLabRegistry');
const UUID = 'c72e0888-c1c3-11e8-0741-c1bd6f46e678';
const TREE = 'd1f7853f0fd9b90082873f28025d02356a9989c4';

let larder: TestApp;

beforeAll(async () => {
  larder = await openTestApp({
    repos: [
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'private-julia', format: 'julia', kind: 'hosted', visibility: 'private' },
    ],
  });
  const summary = await importJuliaRegistry(larder.registry, larder.registry.repos.get('julia')!, FIXTURE);
  expect(summary).toMatchObject({ name: 'HolyLabRegistry', uuid: UUID, treeHash: TREE, changed: true });
});
afterAll(async () => {
  await larder?.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => larder.app.inject({ method: 'GET', url, headers });

/** Every entry path in a tar, in order. */
async function tarPaths(raw: Buffer): Promise<string[]> {
  const names: string[] = [];
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    names.push(h.name);
    stream.on('end', next);
    stream.resume();
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
    Readable.from([raw]).pipe(extract);
  });
  return names;
}

describe('the Pkg server protocol for an imported registry', () => {
  it('advertises the registry in /registries with the tree hash of the source', async () => {
    const res = await get('/julia/registries', { 'julia-pkg-protocol': '1.0', 'julia-version': '1.12.1' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(`/registry/${UUID}/${TREE}\n`);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-cache');
    // Pkg's own parse (§3.2): every line must match, with a parsable UUID and a 40-hex hash.
    for (const line of res.body.trim().split('\n')) expect(line).toMatch(/^\/registry\/[0-9a-f-]{36}\/[0-9a-f]{40}$/);
    expect((await get('/julia/registries.eager')).body).toBe(res.body);
  });

  it('serves a gzip tarball (no Content-Encoding) whose tar tree hash, empty directories counted, is the advertised hash', async () => {
    const res = await get(`/julia/registry/${UUID}/${TREE}`, { 'accept-encoding': 'zstd, gzip' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const raw = gunzipSync(res.rawPayload);
    const hashes = await tarTreeHashes(Readable.from([raw]));
    expect(hashes.keepEmpty).toBe(TREE);
    const names = await tarPaths(raw);
    expect(names).toContain('Registry.toml');
    expect(names.filter((n) => n.startsWith('./') || n.startsWith('/') || n.includes('..'))).toEqual([]);
  });

  it('answers HEAD with the length and single ranges with 206/416', async () => {
    const full = await get(`/julia/registry/${UUID}/${TREE}`);
    const head = await larder.app.inject({ method: 'HEAD', url: `/julia/registry/${UUID}/${TREE}` });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(full.rawPayload.length));
    expect(head.headers['accept-ranges']).toBe('bytes');
    const part = await get(`/julia/registry/${UUID}/${TREE}`, { range: 'bytes=10-19' });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${full.rawPayload.length}`);
    expect(part.rawPayload.equals(full.rawPayload.subarray(10, 20))).toBe(true);
    const tail = await get(`/julia/registry/${UUID}/${TREE}`, { range: 'bytes=-5' });
    expect(tail.rawPayload.equals(full.rawPayload.subarray(-5))).toBe(true);
    const beyond = await get(`/julia/registry/${UUID}/${TREE}`, { range: `bytes=${full.rawPayload.length + 10}-` });
    expect(beyond.statusCode).toBe(416);
  });

  it('answers 404 for unknown registries, packages and artifacts, and for malformed ids', async () => {
    for (const url of [
      `/julia/registry/${UUID}/${'0'.repeat(40)}`,
      `/julia/registry/00000000-0000-0000-0000-000000000000/${TREE}`,
      `/julia/registry/${UUID.toUpperCase()}/${TREE}`,
      `/julia/registry/${UUID}/${TREE.slice(0, 39)}`,
      `/julia/package/${UUID}/${TREE}`,
      `/julia/artifact/${TREE}`,
      '/julia/artifact/not-a-hash',
      '/julia/meta/unknown',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
    }
  });

  it('imports again as a no-op while the tree is unchanged', async () => {
    const again = await importJuliaRegistry(larder.registry, larder.registry.repos.get('julia')!, FIXTURE);
    expect(again.changed).toBe(false);
    expect((await get('/julia/registries')).body).toBe(`/registry/${UUID}/${TREE}\n`);
  });
});

describe('a private Pkg server', () => {
  it('needs the bearer token Pkg sends from auth.toml', async () => {
    const anon = await get('/private-julia/registries');
    expect(anon.statusCode).toBe(401);
    const ok = await get('/private-julia/registries', { authorization: `Bearer ${larder.adminToken}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('');
    const bad = await get('/private-julia/registries', { authorization: 'Bearer larder_nope' });
    expect(bad.statusCode).toBe(401);
  });
});
