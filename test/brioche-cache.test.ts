/**
 * The Brioche cache over real sockets: Content-Length on HTTP/1.1 and HTTP/2 (trap 3), and a proxy of
 * an upstream cache (a fake standing in for https://cache.brioche.dev): verified, stored, served byte-identical.
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, zstd } from './support/brioche-archive.js';
import { tokenFor } from './support/cargo.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { openTestApp, startTestLarder, type TestApp, type TestLarder } from './support/larder.js';
import { registryState } from './support/state.js';
import { blake3 } from 'hash-wasm';

describe('cache reads over real sockets', () => {
  let larder: TestLarder;
  const body = JSON.stringify({ artifactHash: 'a'.repeat(64) });
  const path = `/bri/cache/projects/${'1'.repeat(64)}/source.json`;

  beforeAll(async () => {
    larder = await startTestLarder({ tls: true, repos: [{ name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public' }] });
    const token = await tokenFor(larder.registry, 'alice', { scopes: ['publish'] });
    await new Promise<void>((resolve, reject) => {
      const req = https.request(
        `${larder.url}${path}`,
        {
          method: 'PUT',
          ca: fs.readFileSync(larder.caCertPath!),
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'if-none-match': '*',
            'content-length': body.length,
          },
        },
        (r) => {
          r.resume();
          r.on('end', () => (r.statusCode === 201 ? resolve() : reject(new Error(`PUT ${r.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  });
  afterAll(() => larder?.stop());

  it('sends an exact Content-Length and no Content-Encoding over HTTP/1.1', async () => {
    for (const method of ['GET', 'HEAD']) {
      const { headers, data } = await new Promise<{ headers: import('node:http').IncomingHttpHeaders; data: string }>((resolve, reject) => {
        https
          .request(
            `${larder.url}${path}`,
            { method, ca: fs.readFileSync(larder.caCertPath!), headers: { 'accept-encoding': 'gzip, br' } },
            (r) => {
              let data = '';
              r.on('data', (c) => (data += c));
              r.on('end', () => resolve({ headers: r.headers, data }));
            },
          )
          .on('error', reject)
          .end();
      });
      expect(headers['content-length']).toBe(String(body.length));
      expect(headers['transfer-encoding']).toBeUndefined();
      expect(headers['content-encoding']).toBeUndefined();
      expect(data).toBe(method === 'GET' ? body : '');
    }
  });

  it('sends an exact Content-Length and no Content-Encoding over HTTP/2', async () => {
    const client = http2.connect(larder.url, { ca: fs.readFileSync(larder.caCertPath!) });
    try {
      for (const method of ['GET', 'HEAD']) {
        const { headers, data } = await new Promise<{ headers: http2.IncomingHttpHeaders; data: string }>((resolve, reject) => {
          const stream = client.request({ ':method': method, ':path': path, 'accept-encoding': 'gzip, br, zstd' });
          let headers: http2.IncomingHttpHeaders = {};
          let data = '';
          stream.on('response', (h) => (headers = h));
          stream.on('data', (c) => (data += c));
          stream.on('end', () => resolve({ headers, data }));
          stream.on('error', reject);
          stream.end();
        });
        expect(headers[':status']).toBe(200);
        expect(headers['content-length']).toBe(String(body.length));
        expect(headers['content-encoding']).toBeUndefined();
        expect(data).toBe(method === 'GET' ? body : '');
      }
      const missing = await new Promise<number>((resolve, reject) => {
        const stream = client.request({ ':method': 'HEAD', ':path': `/bri/cache/chunks/${'2'.repeat(64)}.zst` });
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
        stream.end();
      });
      expect(missing).toBe(404);
    } finally {
      client.close();
    }
  });
});

describe('a proxy of an upstream cache', () => {
  let upstream: FakeUpstream;
  let t: TestApp;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    t = await openTestApp({
      repos: [{ name: 'up', format: 'brioche', kind: 'proxy', visibility: 'public', upstream: upstream.url }],
      outbound: { allowPrivate: ['127.0.0.1'] },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await upstream?.close();
  });

  it('answers 404 when the upstream has no such object', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/up/cache/chunks/${'3'.repeat(64)}.zst` });
    expect(res.statusCode).toBe(404);
    expect(upstream.hits(`/cache/chunks/${'3'.repeat(64)}.zst`)).toBe(1);
  });

  it('fetches an object once, verifies it and serves it byte-identical', async () => {
    const data = Buffer.from('upstream chunk '.repeat(500));
    const key = `chunks/${await blake3(data)}.zst`;
    const zst = await zstd(data);
    upstream.set(`/cache/${key}`, { body: zst, headers: { 'content-type': 'application/octet-stream' } });
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({ method: 'GET', url: `/up/cache/${key}` });
      expect(res.statusCode).toBe(200);
      expect(res.rawPayload).toEqual(zst);
      expect(res.headers['content-length']).toBe(String(zst.length));
    }
    expect(upstream.hits(`/cache/${key}`)).toBe(1);
  });

  it('refuses a tampered chunk with 502 and stores nothing', async () => {
    const key = `chunks/${await blake3(Buffer.from('the real chunk'))}.zst`;
    upstream.set(`/cache/${key}`, { body: await zstd(Buffer.from('another chunk')) });
    const before = await registryState(t.registry, t.data);
    const res = await t.app.inject({ method: 'GET', url: `/up/cache/${key}` });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'UPSTREAM_INTEGRITY', error: expect.stringMatching(/does not hash to its name/) });
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });

  it('verifies an artifact archive with the chunks it pulls through', async () => {
    const built = await buildArchive({ dir: { big: { file: Buffer.alloc(150_000, 3) }, s: { symlink: 'big' } } }, { chunkSize: 50_000 });
    for (const [h, zst] of built.chunks) upstream.set(`/cache/chunks/${h}.zst`, { body: zst });
    const key = `artifacts/${built.hash}.bar.zst`;
    upstream.set(`/cache/${key}`, { body: built.zst });
    const res = await t.app.inject({ method: 'GET', url: `/up/cache/${key}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.rawPayload).toEqual(built.zst);
    const wrong = `artifacts/${'9'.repeat(64)}.bar.zst`;
    upstream.set(`/cache/${wrong}`, { body: built.zst });
    expect((await t.app.inject({ method: 'GET', url: `/up/cache/${wrong}` })).statusCode).toBe(502);
  });

  it('refuses writes: a proxy is read-only', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: `/up/cache/chunks/${'4'.repeat(64)}.zst`,
      payload: 'x',
      headers: { authorization: `Bearer ${t.adminToken}`, 'if-none-match': '*' },
    });
    expect(res.statusCode).toBe(405);
    expect(res.json()).toMatchObject({ code: 'REPO_READ_ONLY' });
  });
});
