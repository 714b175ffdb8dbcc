import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestLarder, type TestLarder } from '../../../test/support/larder.js';

const REG = '3c4a6e2e-0000-4000-8000-00000000f457';
let larder: TestLarder;
let ca: Buffer;

beforeAll(async () => {
  larder = await startTestLarder({ tls: true });
  ca = fs.readFileSync(larder.caCertPath!);
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

it('answers /registries before the router with the bytes and headers of the route, under each of its names', async () => {
  // No registry yet: the route's empty list, never a cached answer.
  const empty = await getH1('/julia/registries');
  expect(empty.status).toBe(200);
  expect(empty.body.length).toBe(0);
  const created = await larder.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'Fast', uuid: REG },
    headers: { authorization: `Bearer ${larder.adminToken}` },
  });
  expect(created.statusCode).toBe(201);

  const source = larder.registry.sources.get('julia')!;
  for (const name of ['registries', 'registries.eager', 'registries.conservative']) {
    const url = `/julia/${name}`;
    const route = await larder.app.inject({ url });
    expect(route.statusCode).toBe(200);
    expect(route.body).toMatch(new RegExp(`^/registry/${REG}/[0-9a-f]{40}\n$`));
    const routeHeaders = comparable(route.headers);
    expect(routeHeaders).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });

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
    const etag = String(route.headers.etag);
    const revalidated = await getH1(url, { 'if-none-match': etag });
    expect(revalidated.status).toBe(304);
    expect(comparable(revalidated.headers)).toEqual(
      comparable((await larder.app.inject({ url, headers: { 'if-none-match': etag } })).headers),
    );
  }
});

it('leaves other names under the repo to their routes', async () => {
  expect((await getH1('/julia/registries.other')).status).toBe(404);
  expect((await getH1('/julia/registries/')).status).toBe(404);
});
