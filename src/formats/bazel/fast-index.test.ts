import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestLarder, type TestLarder } from '../../../test/support/larder.js';
import { comparableHeaders, getH1 as tlsGet1, getH2 as tlsGet2 } from '../../../test/support/tls-get.js';
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

const getH1 = (url: string, headers?: Record<string, string>) => tlsGet1(larder.url, ca, url, headers);
const getH2 = (url: string) => tlsGet2(larder.url, ca, url);

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
    const routeHeaders = comparableHeaders(route.headers);
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
      expect(comparableHeaders(fast.headers)).toEqual(routeHeaders);
    }

    const revalidated = await getH1(url, { 'if-none-match': String(route.headers.etag) });
    const routeRevalidated = await larder.app.inject({ url, headers: { 'if-none-match': String(route.headers.etag) } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body.length).toBe(0);
    expect(comparableHeaders(revalidated.headers)).toEqual(comparableHeaders(routeRevalidated.headers));
  }
});

it('leaves unknown, traversing and non-registry paths to the route', async () => {
  for (const url of ['/bazel/modules/ahab/../ahab/metadata.json', '/bazel/modules/nope/metadata.json', '/bazel/README.md']) {
    const res = await getH1(url);
    expect(res.status).toBe(404);
    expect(res.body.toString()).toMatch(/not (in registry bazel|found)|nothing at/);
  }
});
