import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestLarder, type TestLarder } from '../../../test/support/larder.js';
import { importBazelTree } from './import.js';

const BCR = path.resolve('../shared/fixtures/bcr-sample');
let larder: TestLarder;
let ca: Buffer;

beforeAll(async () => {
  larder = await startTestLarder({ tls: true });
  ca = fs.readFileSync(larder.caCertPath!);
  await importBazelTree(larder.registry, larder.registry.repos.get('bazel')!, BCR);
});
afterAll(async () => {
  await larder?.stop();
});

type Answer = { status: number; headers: Record<string, unknown>; body: Buffer };

function getH1(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    https
      .get(larder.url, { path: url, ca, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

function getH2(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(larder.url, { ca });
    session.on('error', reject);
    const req = session.request({ ':path': url });
    let headers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      const { ':status': status, ...rest } = headers;
      resolve({ status: Number(status), headers: rest, body: Buffer.concat(chunks) });
    });
    req.end();
  });
}

/** The headers that must match: everything but the per-response ones. */
function comparable(h: Record<string, unknown>): Record<string, unknown> {
  // Object.entries drops the symbol keys Node's HTTP/2 headers carry.
  const { date: _d, 'x-request-id': _id, connection: _c, 'keep-alive': _k, ...rest } = Object.fromEntries(Object.entries(h));
  return rest;
}

const FILES: Array<[string, string, string]> = [
  ['bazel_registry.json', 'application/json', 'public, max-age=31536000, immutable'],
  ['modules/ahab/metadata.json', 'application/json', 'no-cache'],
  ['modules/ahab/0.2.0/MODULE.bazel', 'text/plain; charset=utf-8', 'public, max-age=31536000, immutable'],
  ['modules/ahab/0.2.0/source.json', 'application/json', 'public, max-age=31536000, immutable'],
];

it('answers cached registry files before the router with the bytes and headers of the route', async () => {
  const source = larder.registry.sources.get('bazel')!;
  for (const [file, contentType, cacheControl] of FILES) {
    const url = `/bazel/${file}`;
    const route = await larder.app.inject({ url });
    expect(route.statusCode).toBe(200);
    expect(route.rawPayload.equals(fs.readFileSync(path.join(BCR, file)))).toBe(true);
    const routeHeaders = comparable(route.headers);
    expect(routeHeaders).toMatchObject({ 'content-type': expect.stringMatching(contentType), 'cache-control': cacheControl });

    // Now cached: served without asking the source again (the fast path), the same over HTTP/1.1 and HTTP/2.
    const asked = vi.spyOn(source, 'doc');
    const h1 = await getH1(url);
    const h2 = await getH2(url);
    expect(asked).not.toHaveBeenCalled();
    asked.mockRestore();
    for (const fast of [h1, h2]) {
      expect(fast.status).toBe(200);
      expect(fast.body.equals(route.rawPayload)).toBe(true);
      expect(comparable(fast.headers)).toEqual(routeHeaders);
    }

    const revalidated = await getH1(url, { 'if-none-match': String(route.headers.etag) });
    const routeRevalidated = await larder.app.inject({ url, headers: { 'if-none-match': String(route.headers.etag) } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body.length).toBe(0);
    expect(comparable(revalidated.headers)).toEqual(comparable(routeRevalidated.headers));
  }
});

it('leaves unknown, traversing and non-registry paths to the route', async () => {
  for (const url of ['/bazel/modules/ahab/../ahab/metadata.json', '/bazel/modules/nope/metadata.json', '/bazel/README.md']) {
    const res = await getH1(url);
    expect(res.status).toBe(404);
    expect(res.body.toString()).toMatch(/not (in registry bazel|found)|nothing at/);
  }
});
