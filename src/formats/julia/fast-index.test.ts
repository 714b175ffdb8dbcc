import fs from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestLarder, type TestLarder } from '../../../test/support/larder.js';
import { comparableHeaders, getH1 as tlsGet1, getH2 as tlsGet2 } from '../../../test/support/tls-get.js';

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

const getH1 = (url: string, headers?: Record<string, string>) => tlsGet1(larder.url, ca, url, headers);
const getH2 = (url: string) => tlsGet2(larder.url, ca, url);

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
    const routeHeaders = comparableHeaders(route.headers);
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
      expect(comparableHeaders(fast.headers)).toEqual(routeHeaders);
    }
    const etag = String(route.headers.etag);
    const revalidated = await getH1(url, { 'if-none-match': etag });
    expect(revalidated.status).toBe(304);
    expect(comparableHeaders(revalidated.headers)).toEqual(
      comparableHeaders((await larder.app.inject({ url, headers: { 'if-none-match': etag } })).headers),
    );
  }
});

it('leaves other names under the repo to their routes', async () => {
  expect((await getH1('/julia/registries.other')).status).toBe(404);
  expect((await getH1('/julia/registries/')).status).toBe(404);
});
