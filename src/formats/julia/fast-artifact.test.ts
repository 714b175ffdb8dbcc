/**
 * Small Julia tarballs answered from memory before the router (src/http/fast-artifact.ts): the same status, headers and
 * bytes as the route over HTTP/1.1 and HTTP/2, 304 and HEAD alike, downloads counted as the route counts them.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestLarder, type TestLarder } from '../../../test/support/larder.js';
import { comparableHeaders, getH1 as tlsGet1, getH2 as tlsGet2 } from '../../../test/support/tls-get.js';
import { canonicalTarball } from './tarball.js';

const REG = '3c4a6e2e-0000-4000-8000-00000000fa57';
const PKG = '4d5b7f3f-0000-4000-8000-00000000fa57';
let larder: TestLarder;
let ca: Buffer;
let url: string;

const getH1 = (path: string, headers?: Record<string, string>, method?: string) => tlsGet1(larder.url, ca, path, headers, method);
const getH2 = (path: string, headers?: Record<string, string>, method?: string) => tlsGet2(larder.url, ca, path, headers, method);

/** Downloads recorded for the package once flushed. */
async function downloads(): Promise<number> {
  await larder.registry.downloads.flush();
  const row = await larder.registry.db.selectFrom('package_downloads').selectAll().where('package', '=', PKG).executeTakeFirst();
  return Number(row?.count ?? 0);
}

beforeAll(async () => {
  larder = await startTestLarder({ tls: true });
  ca = fs.readFileSync(larder.caCertPath!);
  const auth = { authorization: `Bearer ${larder.adminToken}` };
  const created = await larder.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'Fast', uuid: REG },
    headers: auth,
  });
  expect(created.statusCode).toBe(201);
  const tree = new Map([
    [
      'Project.toml',
      { kind: 'file' as const, data: Buffer.from(`name = "Quick"\nuuid = "${PKG}"\nversion = "1.0.0"\n\n[compat]\njulia = "1.6"\n`) },
    ],
    ['src/Quick.jl', { kind: 'file' as const, data: Buffer.from('module Quick end\n') }],
  ]);
  const registered = await larder.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: await canonicalTarball(tree),
    headers: { ...auth, 'content-type': 'application/gzip' },
  });
  expect(registered.statusCode).toBe(201);
  url = `/julia/package/${PKG}/${(JSON.parse(registered.body) as { packageTree: string }).packageTree}`;
});
afterAll(async () => {
  await larder?.stop();
});

it('answers a package tarball from memory with the status, headers and bytes of the route, and counts its downloads', async () => {
  const route = await larder.app.inject({ url });
  expect(route.statusCode).toBe(200);
  expect(comparableHeaders(route.headers)).toMatchObject({
    'content-type': 'application/x-gzip',
    'cache-control': 'public, max-age=31536000, immutable',
  });
  const etag = String(route.headers.etag);
  const routed304 = await larder.app.inject({ url, headers: { 'if-none-match': etag } });
  const routedHead = await larder.app.inject({ url, method: 'HEAD' });
  expect(await downloads()).toBe(1);

  // The first GET over the wire goes through the route, which then has the tarball read into memory.
  let gets = 0;
  const first = await getH1(url);
  gets++;
  expect(first.body.equals(route.rawPayload)).toBe(true);
  await vi.waitFor(async () => {
    const asked = vi.spyOn(larder.registry.sources.get('julia')!, 'artifact');
    try {
      await getH1(url);
      gets++;
      expect(asked).not.toHaveBeenCalled();
    } finally {
      asked.mockRestore();
    }
  });
  expect(await downloads()).toBe(1 + gets);

  // Held now: every answer is the route's, and no source lookup happens.
  const asked = vi.spyOn(larder.registry.sources.get('julia')!, 'artifact');
  for (const get of [getH1, getH2]) {
    const full = await get(url);
    expect(full.status).toBe(200);
    expect(full.body.equals(route.rawPayload)).toBe(true);
    expect(comparableHeaders(full.headers)).toEqual(comparableHeaders(route.headers));
    const notModified = await get(url, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect(comparableHeaders(notModified.headers)).toEqual(comparableHeaders(routed304.headers));
    const head = await get(url, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(comparableHeaders(head.headers)).toEqual(comparableHeaders(routedHead.headers));
  }
  expect(asked).not.toHaveBeenCalled();
  asked.mockRestore();
  // Two full GETs counted; the 304s and HEADs are not downloads.
  expect(await downloads()).toBe(3 + gets);
});

it('leaves ranges and unknown tarballs to the route', async () => {
  const part = await getH1(url, { range: 'bytes=0-9' });
  expect(part.status).toBe(206);
  expect(part.body.length).toBe(10);
  const missing = await getH2(`/julia/package/${PKG}/${'0'.repeat(40)}`);
  expect(missing.status).toBe(404);
  expect((await getH1(`/julia/package/not-a-uuid/${'0'.repeat(40)}`)).status).toBe(404);
});
