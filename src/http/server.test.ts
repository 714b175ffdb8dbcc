import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from '../../test/support/cargo.js';
import { startTestLarder, type TestLarder } from '../../test/support/larder.js';

let larder: TestLarder;
let ca: Buffer;

beforeAll(async () => {
  larder = await startTestLarder({ tls: true });
  ca = fs.readFileSync(larder.caCertPath!);
});
afterAll(async () => {
  await larder?.stop();
});

function getH1(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${larder.url}${path}`, { ca, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol,
        }),
      );
    });
    req.on('error', reject);
  });
}

function getH2(
  path: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: string; alpn: string | false | undefined; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(larder.url, { ca });
    session.on('error', reject);
    const req = session.request({ ':path': path, ...extra });
    let status = 0;
    let body = '';
    let headers: Record<string, unknown> = {};
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = Object.fromEntries(Object.entries(h));
    });
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status, body, alpn, headers });
    });
    req.end();
  });
}

describe('HTTP server', () => {
  it('speaks HTTP/2 through ALPN and falls back to HTTP/1.1 on the same port', async () => {
    const h2 = await getH2('/-/healthz');
    expect(h2).toMatchObject({ status: 200, body: '{"status":"ok"}', alpn: 'h2' });
    const h1 = await getH1('/-/healthz');
    expect(h1.status).toBe(200);
    expect(h1.alpn).toBe(false);
  });

  it('gives every response a request id and keeps one the client sent', async () => {
    const generated = await getH1('/-/healthz');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await getH1('/-/healthz', { 'x-request-id': 'trace-abc-123' });
    expect(kept.headers['x-request-id']).toBe('trace-abc-123');
    // One the log could not hold as it is (a quote) is replaced, through Fastify as on the fast path (below).
    const replaced = await getH1('/-/healthz', { 'x-request-id': 'a"b' });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown paths with a 404 in the catalogue shape', async () => {
    const res = await getH1('/-/nothing-here');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'NOT_FOUND', message: 'nothing at GET /-/nothing-here' } });
  });

  it('reports readiness with the database it checked', async () => {
    const res = await getH1('/-/readyz');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ready', database: 'sqlite', notifications: 'listening', blobs: 'ok' });
  });

  it('counts requests by repo, format and status, with latency histograms', async () => {
    await getH1('/cargo/index/config.json');
    await getH1('/cargo/index/no/ne/nonexistent');
    const metrics = (await getH1('/-/metrics')).body;
    expect(metrics).toMatch(/larder_http_requests_total\{repo="cargo",format="cargo",status="200"\} \d+/);
    expect(metrics).toMatch(/larder_http_requests_total\{repo="cargo",format="cargo",status="404"\} \d+/);
    expect(metrics).toMatch(/larder_http_request_duration_seconds_bucket\{le="0.005",repo="cargo",format="cargo"\} \d+/);
    expect(metrics).toMatch(/larder_index_cache_misses_total \d+/);
  });

  it('answers a cached index read (fast path) exactly as the route answered the first, uncached one', async () => {
    const { body } = await simplePublishBody('fastpath', '1.0.0');
    const published = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        `${larder.url}/cargo/api/v1/crates/new`,
        { method: 'PUT', ca, headers: { authorization: larder.adminToken } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(published).toBe(200);
    const path = '/cargo/index/fa/st/fastpath';
    const strip = (h: Record<string, unknown>) => {
      const { date: _d, 'x-request-id': id, connection: _c, 'keep-alive': _k, ...rest } = h;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      return rest;
    };
    const first = await getH1(path);
    const second = await getH1(path);
    expect(second.body).toBe(first.body);
    expect(strip(second.headers)).toEqual(strip(first.headers));
    expect(strip(first.headers)).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    const h2 = await getH2(path);
    expect(h2.body).toBe(first.body);
    const { ':status': _s, ...h2Headers } = h2.headers;
    expect(strip(h2Headers)).toEqual(strip(first.headers));
    const etag = String(first.headers.etag);
    const revalidated = await getH1(path, { 'if-none-match': etag });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body).toBe('');
    expect(revalidated.headers.etag).toBe(etag);
    const kept = await getH1(path, { 'x-request-id': 'fast-123' });
    expect(kept.headers['x-request-id']).toBe('fast-123');
    expect((await getH1(path, { 'x-request-id': 'fast\\123' })).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // Headers are built once per document: each answer still carries its own id, never the previous one.
    const third = await getH1(path);
    expect(third.headers['x-request-id']).not.toBe(second.headers['x-request-id']);
    expect(third.headers['x-request-id']).not.toBe('fast-123');
    const again = await getH1(path, { 'if-none-match': etag });
    expect(again.headers['x-request-id']).not.toBe(revalidated.headers['x-request-id']);
    // The same over HTTP/2, whose header objects are also built once per document.
    expect((await getH2(path, { 'x-request-id': 'h2-fast-123' })).headers['x-request-id']).toBe('h2-fast-123');
    const h2Again = await getH2(path, { 'if-none-match': etag });
    expect(h2Again.status).toBe(304);
    expect(h2Again.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(strip((await getH2(path)).headers)).toMatchObject({ etag });
    const metrics = (await getH1('/-/metrics')).body;
    expect(metrics).toMatch(/larder_http_requests_total\{repo="cargo",format="cargo",status="304"\} 3/);
    expect(metrics).toMatch(/larder_http_request_duration_seconds_bucket\{le="\+Inf",repo="cargo",format="cargo"\} \d+/);
    expect(metrics).toMatch(/larder_http_request_duration_seconds_count\{repo="cargo",format="cargo"\} \d+/);
  });

  it('lists repositories with their client URLs', async () => {
    const res = JSON.parse((await getH1('/-/api/repos')).body);
    expect(res.repos).toEqual([
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public', url: `sparse+${larder.url}/cargo/index/` },
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public', url: `${larder.url}/bazel` },
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public', url: `${larder.url}/julia` },
      { name: 'moonbit', format: 'moonbit', kind: 'hosted', visibility: 'public', url: `${larder.url}/moonbit` },
      { name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public', url: `${larder.url}/brioche/registry/` },
    ]);
  });
});

describe('repository kinds', () => {
  it('refuses to start a repository of a kind its format does not serve yet, naming it', async () => {
    // A format that serves hosted repos only (every real format may serve all kinds).
    const { openSources } = await import('../upstream/sources.js');
    const { cargoFormat } = await import('../formats/cargo/index.js');
    const repo = { id: 1, name: 'crates-io', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: 'https://index.crates.io/' };
    const registry = { formats: new Map([['cargo', { ...cargoFormat, kinds: ['hosted'] }]]), repos: new Map([[repo.name, repo]]) };
    expect(() => openSources(registry as never, {} as never)).toThrow(
      'repository "crates-io": cargo proxy repositories are not available yet; use kind = "hosted"',
    );
  });
});
