import { blake3 } from 'hash-wasm';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, zstd } from '../../../test/support/brioche-archive.js';
import { tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { registryState } from '../../../test/support/state.js';
import { putObject } from './objects.js';

let t: TestApp;
let token: string;
const H = (c: string) => c.repeat(64);

async function chunkOf(data: Buffer): Promise<{ key: string; zst: Buffer }> {
  return { key: `chunks/${await blake3(data)}.zst`, zst: await zstd(data) };
}

const put = (url: string, payload: Buffer | string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'PUT',
    url,
    payload,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': url.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'if-none-match': '*',
      ...headers,
    },
  });

/** Sends a refused write and checks nothing changed. */
async function refused(url: string, payload: Buffer | string, status: number, message: RegExp): Promise<void> {
  const before = await registryState(t.registry, t.data);
  const res = await put(url, payload);
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect((res.json() as { error: string }).error).toMatch(message);
  expect(await registryState(t.registry, t.data)).toEqual(before);
}

beforeAll(async () => {
  t = await openTestApp({
    repos: [
      { name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public' },
      { name: 'secret', format: 'brioche', kind: 'hosted', visibility: 'private' },
    ],
    limits: { maxArchiveSize: 1 << 20, maxUnpackedSize: 4 << 20 },
  });
  token = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
});
afterAll(() => t?.stop());

describe('cache reads', () => {
  it('serves an object with an exact Content-Length, no Content-Encoding, immutable, ETag and Last-Modified; HEAD too', async () => {
    const body = JSON.stringify({ artifactHash: H('a') });
    const url = `/bri/cache/projects/${H('1')}/source.json`;
    expect((await put(url, body)).statusCode).toBe(201);
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await t.app.inject({ method, url, headers: { 'accept-encoding': 'gzip, br, zstd' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBe(String(body.length));
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
      expect(new Date(res.headers['last-modified'] as string).getTime()).not.toBeNaN();
      expect(res.body).toBe(method === 'GET' ? body : '');
    }
    // A cache URL configured with a trailing slash: brioche asks for …/cache//projects/… (trap 2).
    const twice = await t.app.inject({ method: 'GET', url: `/bri/cache//projects/${H('1')}/source.json` });
    expect(twice.statusCode).toBe(200);
    expect(twice.body).toBe(body);
    const range = await t.app.inject({ method: 'GET', url, headers: { range: 'bytes=2-5' } });
    expect(range.statusCode).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 2-5/${body.length}`);
    expect(range.headers['content-length']).toBe('4');
    expect(range.body).toBe(body.slice(2, 6));
  });

  it('answers 404 for a missing object and for anything that is not a cache key, never 401/403/500', async () => {
    for (const path of [
      `projects/${H('2')}/source.json`,
      `artifacts/${H('3')}.bar.zst`,
      `chunks/${H('4')}.zst`,
      `bakes/${H('5')}/output.json`,
      'chunks/../x',
      `chunks/${H('A')}.zst`,
      'nothing',
      '',
    ]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await t.app.inject({ method, url: `/bri/cache/${path}` });
        expect(res.statusCode, `${method} ${path}`).toBe(404);
      }
    }
  });

  it('asks for a token on a private cache, saying brioche reads those through S3', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/secret/cache/chunks/${H('4')}.zst` });
    expect(res.statusCode).toBe(401);
    expect((res.json() as { error: string }).error).toMatch(/S3/);
    const withToken = await t.app.inject({
      method: 'GET',
      url: `/secret/cache/chunks/${H('4')}.zst`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(withToken.statusCode).toBe(404);
  });
});

describe('cache writes', () => {
  it('creates a chunk once: 201, then 412 with If-None-Match: *, 200 without; nothing changes the second time', async () => {
    const { key, zst } = await chunkOf(Buffer.from('chunk data '.repeat(1000)));
    expect((await put(`/bri/cache/${key}`, zst)).statusCode).toBe(201);
    const before = await registryState(t.registry, t.data);
    expect((await put(`/bri/cache/${key}`, zst)).statusCode).toBe(412);
    expect((await put(`/bri/cache/${key}`, zst, { 'if-none-match': '' })).statusCode).toBe(200);
    expect(await registryState(t.registry, t.data)).toEqual(before);
    const got = await t.app.inject({ method: 'GET', url: `/bri/cache/${key}` });
    expect(got.rawPayload).toEqual(zst);
  });

  it('refuses a chunk that does not hash to its name, truncated zstd, an oversized body, bad keys and bad JSON', async () => {
    const { zst } = await chunkOf(Buffer.from('some bytes'));
    await refused(`/bri/cache/chunks/${H('b')}.zst`, zst, 400, /does not hash to its name/);
    const { key } = await chunkOf(Buffer.from('some bytes'));
    await refused(`/bri/cache/${key}`, zst.subarray(0, zst.length - 4), 400, /not a valid zstd stream/);
    await refused(`/bri/cache/${key}`, Buffer.alloc((1 << 20) + 10), 413, /larger than/);
    const bomb = await zstd(Buffer.alloc(32 << 20), 19);
    await refused(`/bri/cache/${key}`, bomb, 413, /decompresses to more than|zstd window/);
    for (const bad of ['chunks/../x', `chunks/${H('b')}.zst/../../y`, `projects/${H('c')}/other.json`, `artifacts/${H('C')}.bar.zst`])
      await refused(`/bri/cache/${bad}`, zst, 400, /is not a Brioche cache key: cache keys are projects/);
    await refused(`/bri/cache/projects/${H('d')}/source.json`, '{"artifactHash": 1}', 400, /must be \{"artifactHash"/);
    await refused(`/bri/cache/bakes/${H('d')}/output.json`, 'not json', 400, /is not JSON/);
    await refused(`/bri/cache/bakes/${H('d')}/output.json`, JSON.stringify({ outputHash: H('E') }), 400, /lower-case hex/);
  });

  it('verifies artifact archives: inline data, and chunks that must be uploaded first', async () => {
    const small = await buildArchive({ dir: { 'a.txt': { file: Buffer.from('hello') }, bin: { dir: { x: { symlink: '../a.txt' } } } } });
    await refused(`/bri/cache/artifacts/${H('f')}.bar.zst`, small.zst, 400, /rebuilds to artifact/);
    expect((await put(`/bri/cache/artifacts/${small.hash}.bar.zst`, small.zst)).statusCode).toBe(201);

    const chunked = await buildArchive(
      { dir: { big: { file: Buffer.alloc(200_000, 9) }, s: { file: Buffer.from('s') } } },
      { chunkSize: 64_000 },
    );
    const key = `/bri/cache/artifacts/${chunked.hash}.bar.zst`;
    await refused(key, chunked.zst, 400, /needs chunks\/[0-9a-f]{64}\.zst, which is not in the cache/);
    for (const [h, zst] of chunked.chunks) expect((await put(`/bri/cache/chunks/${h}.zst`, zst)).statusCode).toBe(201);
    expect((await put(key, chunked.zst)).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'GET', url: key })).rawPayload).toEqual(chunked.zst);

    const tampered = await buildArchive(
      { dir: { 'a.txt': { file: Buffer.from('hello') } } },
      { tamper: (raw) => Buffer.concat([raw.subarray(0, -1), Buffer.from('j')]) },
    );
    await refused(`/bri/cache/artifacts/${tampered.hash}.bar.zst`, tampered.zst, 400, /does not hash to its name/);
  });

  it('puts through putObject as the S3 endpoint does: create-only, 4xx refusals', async () => {
    const repo = t.registry.repos.get('bri')!;
    const p = await t.registry.auth.authenticate(token);
    const { key, zst } = await chunkOf(Buffer.from('via s3'));
    expect(await putObject(t.registry, repo, p, key, Readable.from([zst]))).toMatchObject({
      created: true,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(await putObject(t.registry, repo, p, key, Readable.from([zst]))).toMatchObject({ created: false });
    await expect(putObject(t.registry, repo, p, 'chunks/../x', Readable.from([zst]))).rejects.toMatchObject({ code: 'NAME_INVALID' });
    const reader = await t.registry.auth.authenticate(await tokenFor(t.registry, 'alice', { scopes: ['read'] }));
    const other = await chunkOf(Buffer.from('not allowed'));
    await expect(putObject(t.registry, repo, reader, other.key, Readable.from([other.zst]))).rejects.toMatchObject({
      code: 'SCOPE_MISSING',
    });
  });

  it('asks for a token before reading the body', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: `/bri/cache/chunks/${H('1')}.zst`,
      payload: 'x',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode).toBe(401);
  });
});
