/**
 * Julia tarballs answered from memory before the router (src/http/fast-artifact.ts): the same status, headers and
 * bytes as the route over HTTP/1.1 and HTTP/2, 304 and HEAD alike, downloads counted as the route counts them; a large
 * one once it is hot, ranges always by the route; a private repo's never.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestLarder, type TestLarder } from '../../../test/support/larder.js';
import { comparableHeaders, getH1 as tlsGet1, getH2 as tlsGet2 } from '../../../test/support/tls-get.js';
import { canonicalTarball } from './tarball.js';
import { FAST_ARTIFACT_MAX_SIZE } from '../../http/fast-artifact.js';

const REG = '3c4a6e2e-0000-4000-8000-00000000fa57';
const PKG = '4d5b7f3f-0000-4000-8000-00000000fa57';
const BIG = '5e6c8a4a-0000-4000-8000-00000000fa57';
const SECRET_REG = '6f7d9b5b-0000-4000-8000-00000000fa57';
let larder: TestLarder;
let ca: Buffer;
let url: string;

const getH1 = (path: string, headers?: Record<string, string>, method?: string) => tlsGet1(larder.url, ca, path, headers, method);
const getH2 = (path: string, headers?: Record<string, string>, method?: string) => tlsGet2(larder.url, ca, path, headers, method);

/** Downloads recorded for the package once flushed. */
async function downloads(pkg = PKG): Promise<number> {
  await larder.registry.downloads.flush();
  const row = await larder.registry.db.selectFrom('package_downloads').selectAll().where('package', '=', pkg).executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** `n` bytes of text gzip cannot shrink much, so a tarball of it is about that large. */
function noise(n: number): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha256').update(String(i)).digest('base64');
  return out.slice(0, n);
}

/** Registers `name` (uuid `uuid`, `extra` bytes of noise in its source) in registry `reg` of `repo`; its tarball URL. */
async function register(repo: string, reg: string, name: string, uuid: string, extra = 0): Promise<string> {
  const tree = new Map([
    [
      'Project.toml',
      { kind: 'file' as const, data: Buffer.from(`name = "${name}"\nuuid = "${uuid}"\nversion = "1.0.0"\n\n[compat]\njulia = "1.6"\n`) },
    ],
    [`src/${name}.jl`, { kind: 'file' as const, data: Buffer.from(`module ${name}\nconst DATA = "${noise(extra)}"\nend\n`) }],
  ]);
  const registered = await larder.app.inject({
    method: 'PUT',
    url: `/${repo}/api/registries/${reg}/packages`,
    payload: await canonicalTarball(tree),
    headers: { authorization: `Bearer ${larder.adminToken}`, 'content-type': 'application/gzip' },
  });
  expect(registered.statusCode).toBe(201);
  return `/${repo}/package/${uuid}/${(JSON.parse(registered.body) as { packageTree: string }).packageTree}`;
}

beforeAll(async () => {
  larder = await startTestLarder({
    tls: true,
    repos: [
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'jlsecret', format: 'julia', kind: 'hosted', visibility: 'private' },
    ],
  });
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

  // The first GET over the wire reads the tarball into memory (a hosted repo's: the fast path loads it itself).
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
    // A client's own request id is answered back; otherwise each answer gets a new one.
    const traced = await get(url, { 'x-request-id': 'trace-pkg-1' }, 'HEAD');
    expect(traced.headers['x-request-id']).toBe('trace-pkg-1');
    expect(head.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(head.headers['x-request-id']).not.toBe(full.headers['x-request-id']);
  }
  expect(asked).not.toHaveBeenCalled();
  asked.mockRestore();
  // Two full GETs counted; the 304s and HEADs are not downloads.
  expect(await downloads()).toBe(3 + gets);
});

it("answers a hosted repo's first read of a tarball on the fast path: the blob is read once, and no HTTP/2 request object is made", async () => {
  const urls = [
    await register('julia', REG, 'Firsth1', '9ca02e8e-0000-4000-8000-00000000fa57'),
    await register('julia', REG, 'Firsth2', 'adb13f9f-0000-4000-8000-00000000fa57'),
  ];
  const routes = await Promise.all(urls.map((u) => larder.app.inject({ url: u })));
  const counted = await downloads('9ca02e8e-0000-4000-8000-00000000fa57');
  const asked = vi.spyOn(larder.registry.sources.get('julia')!, 'artifact');
  // HTTP/2 streams given to Node's compatibility layer (and so to Fastify), by path.
  const compat: string[] = [];
  const onRequest = (req: { url: string }) => compat.push(req.url);
  larder.app.server.on('request', onRequest);
  try {
    const h1 = await getH1(urls[0]);
    const h2 = await getH2(urls[1]);
    for (const [i, got] of [h1, h2].entries()) {
      expect(got.status).toBe(200);
      expect(got.body.equals(routes[i].rawPayload)).toBe(true);
      expect(comparableHeaders(got.headers)).toEqual(comparableHeaders(routes[i].headers));
    }
    // One source lookup per tarball; through the route a first read cost two (the route's, then one to hold it).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(asked).toHaveBeenCalledTimes(2);
    expect(compat.filter((u) => u === urls[1])).toEqual([]);
    expect((await getH2(urls[1])).status).toBe(200);
    expect(asked).toHaveBeenCalledTimes(2);
    expect(await downloads('9ca02e8e-0000-4000-8000-00000000fa57')).toBe(counted + 1);
  } finally {
    asked.mockRestore();
    larder.app.server.off('request', onRequest);
  }
});

it('leaves ranges and unknown tarballs to the route', async () => {
  const part = await getH1(url, { range: 'bytes=0-9' });
  expect(part.status).toBe(206);
  expect(part.body.length).toBe(10);
  const missing = await getH2(`/julia/package/${PKG}/${'0'.repeat(40)}`);
  expect(missing.status).toBe(404);
  expect((await getH1(`/julia/package/not-a-uuid/${'0'.repeat(40)}`)).status).toBe(404);
});

it('answers a hot large tarball from memory as the route does (304, HEAD), ranges still by the route', async () => {
  const big = await register('julia', REG, 'Bulky', BIG, 400_000);
  const route = await larder.app.inject({ url: big });
  expect(route.statusCode).toBe(200);
  expect(route.rawPayload.length).toBeGreaterThan(FAST_ARTIFACT_MAX_SIZE);
  const etag = String(route.headers.etag);
  const routed304 = await larder.app.inject({ url: big, headers: { 'if-none-match': etag } });
  const routedHead = await larder.app.inject({ url: big, method: 'HEAD' });
  const ranges = ['bytes=0-9', 'bytes=1000-', 'bytes=-77', `bytes=${route.rawPayload.length}-`, 'bytes=0-1,5-6'];
  const routedRanges = await Promise.all(ranges.map((range) => larder.app.inject({ url: big, headers: { range } })));
  const counted = await downloads(BIG);

  // Cold: one answer does not hold it; answered again, it is read into memory and the source is no longer asked.
  const source = larder.registry.sources.get('julia')!;
  let gets = 0;
  await vi.waitFor(async () => {
    const asked = vi.spyOn(source, 'artifact');
    try {
      const got = await getH1(big);
      gets++;
      expect(got.body.equals(route.rawPayload)).toBe(true);
      expect(asked).not.toHaveBeenCalled();
    } finally {
      asked.mockRestore();
    }
  });
  expect(gets).toBeGreaterThan(2);
  expect(await downloads(BIG)).toBe(counted + gets);

  const asked = vi.spyOn(source, 'artifact');
  for (const get of [getH1, getH2]) {
    const full = await get(big);
    expect(full.status).toBe(200);
    expect(full.body.equals(route.rawPayload)).toBe(true);
    expect(comparableHeaders(full.headers)).toEqual(comparableHeaders(route.headers));
    const notModified = await get(big, { 'if-none-match': etag });
    expect([notModified.status, notModified.body.length]).toEqual([304, 0]);
    expect(comparableHeaders(notModified.headers)).toEqual(comparableHeaders(routed304.headers));
    const head = await get(big, {}, 'HEAD');
    expect([head.status, head.body.length]).toEqual([200, 0]);
    expect(comparableHeaders(head.headers)).toEqual(comparableHeaders(routedHead.headers));
  }
  expect(asked).not.toHaveBeenCalled();
  asked.mockRestore();
  expect(await downloads(BIG)).toBe(counted + gets + 2);

  // Many at once on one HTTP/2 session, more bytes than the session may queue (Node's maxSessionMemory, 10 MB):
  // every one answered in full, none refused.
  const session = http2.connect(larder.url, { ca });
  try {
    const bodies = await Promise.all(
      Array.from(
        { length: 40 },
        () =>
          new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
            const req = session.request({ ':path': big });
            let status = 0;
            const chunks: Buffer[] = [];
            req.on('response', (h) => (status = Number(h[':status'])));
            req.on('data', (c: Buffer) => chunks.push(c));
            req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
            req.on('error', reject);
          }),
      ),
    );
    for (const b of bodies) expect(b.status === 200 && b.body.equals(route.rawPayload)).toBe(true);
  } finally {
    session.close();
  }

  // Ranges: the route's answers, byte for byte, over both transports.
  for (const get of [getH1, getH2])
    for (const [i, range] of ranges.entries()) {
      const part = await get(big, { range });
      expect(part.status).toBe(routedRanges[i].statusCode);
      expect(part.body.equals(routedRanges[i].rawPayload)).toBe(true);
      expect(comparableHeaders(part.headers)).toEqual(comparableHeaders(routedRanges[i].headers));
    }
});

it('reads a tarball found large through the route, one source lookup per read, until it is hot and held', async () => {
  const big = await register('julia', REG, 'Roomy', 'bec24fa0-0000-4000-8000-00000000fa57', 400_000);
  const asked = vi.spyOn(larder.registry.sources.get('julia')!, 'artifact');
  const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
  try {
    expect((await getH1(big)).status).toBe(200);
    await settle();
    // The fast path looked first (a hosted repo's tarball) and found it large; the route answered; the answer, its
    // length not known from the route's headers, was looked up to learn its size (large: not held after one answer).
    expect(asked).toHaveBeenCalledTimes(3);
    asked.mockClear();
    // Known large now: the route's lookup and the one after its answer, which holds it (answered twice within the
    // window). Looked up first again and again instead, a tarball read by several clients at once always had a lookup
    // in flight, the route's answers were not counted, and it was never held.
    expect((await getH1(big)).status).toBe(200);
    await settle();
    expect(asked).toHaveBeenCalledTimes(2);
    asked.mockClear();
    const held = await getH2(big);
    expect(held.status).toBe(200);
    expect(held.body.length).toBeGreaterThan(FAST_ARTIFACT_MAX_SIZE);
    expect(asked).not.toHaveBeenCalled();
  } finally {
    asked.mockRestore();
  }
});

it("never holds a private repo's tarballs, small or large", async () => {
  const auth = { authorization: `Bearer ${larder.adminToken}` };
  const created = await larder.app.inject({
    method: 'POST',
    url: '/jlsecret/api/registries',
    payload: { name: 'Secret', uuid: SECRET_REG },
    headers: auth,
  });
  expect(created.statusCode).toBe(201);
  const urls = [
    await register('jlsecret', SECRET_REG, 'Hidden', '7a8e0c6c-0000-4000-8000-00000000fa57'),
    await register('jlsecret', SECRET_REG, 'HiddenBulky', '8b9f1d7d-0000-4000-8000-00000000fa57', 400_000),
  ];
  const source = larder.registry.sources.get('jlsecret')!;
  for (const u of urls) {
    expect((await getH1(u)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await getH1(u, auth)).status).toBe(200);
  }
  // Whatever was started in the background has had time to end: every answer still asks the source (the route).
  await new Promise((resolve) => setTimeout(resolve, 200));
  const asked = vi.spyOn(source, 'artifact');
  for (const u of urls) {
    expect((await getH1(u, auth)).status).toBe(200);
    expect((await getH2(u, auth)).status).toBe(200);
  }
  expect(asked).toHaveBeenCalledTimes(4);
  asked.mockRestore();
  expect((await getH1(urls[0])).status).toBe(401);
});
