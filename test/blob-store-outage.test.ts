/**
 * The blob store unreachable (issue 13): with S3 (s3rver halted, then restarted on the same port and directory)
 * and with the filesystem store (a file where its directories are), for every format: writes are 503
 * BLOB_STORE_UNAVAILABLE in the client's error shape with Retry-After and change nothing (rows, documents,
 * staging files, bucket); index documents keep answering 200 with the same bytes; downloads are 503 (a proxy
 * holding the artifact does not refetch it); once the store is back the same write succeeds and downloads work.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import type { FileTree } from '../src/formats/julia/tree-hash.js';
import { hostedPublishBody } from './support/bazel.js';
import { simplePublishBody, tokenFor } from './support/cargo.js';
import { CONFORMANCE_FORMATS, forwardTo, type ConformanceFormat, type PublishedPackage } from './support/conformance.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { projectToml } from './support/julia.js';
import { openTestApp, TEST_ADMIN_TOKEN, type TestApp } from './support/larder.js';
import { moduleZip, publishRequest } from './support/moonbit-publish.js';
import { startS3, type TestS3 } from './support/s3.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { registryState } from './support/state.js';
import { tempDir } from './support/tmp.js';

/** How each format's client publishes a new package `beta` to a hosted repo (`h` unless named), and what it answers on success. */
interface Write {
  request(t: TestApp, hosted: PublishedPackage, repo?: string): Promise<InjectOptions>;
  created: number;
}

const bearer = (t: TestApp) => ({ authorization: `Bearer ${t.adminToken}` });

const WRITES: Record<ConformanceFormat['format'], Write> = {
  cargo: {
    async request(t, _hosted, repo = 'h') {
      const { body } = await simplePublishBody('beta', '1.0.0');
      return { method: 'PUT', url: `/${repo}/api/v1/crates/new`, headers: { authorization: t.adminToken }, payload: body };
    },
    created: 200,
  },
  bazel: {
    async request(t, _hosted, repo = 'h') {
      const { payload, contentType } = await hostedPublishBody('beta', '1.0.0');
      return { method: 'PUT', url: `/${repo}/api/modules/beta/1.0.0`, payload, headers: { 'content-type': contentType, ...bearer(t) } };
    },
    created: 201,
  },
  julia: {
    async request(t, hosted, repo = 'h') {
      // The registry the conformance adapter created for alpha: `registry/<uuid>/<tree hash>`.
      const registryUuid = hosted.extra[0]!.split('/')[1]!;
      const uuid = 'b3a7c0de-0000-4000-8000-00000000be7a';
      const tree: FileTree = new Map([
        ['Project.toml', { kind: 'file', data: Buffer.from(projectToml('Beta', uuid, '1.0.0')) }],
        ['src/Beta.jl', { kind: 'file', data: Buffer.from('module Beta end\n') }],
      ]);
      return {
        method: 'PUT',
        url: `/${repo}/api/registries/${registryUuid}/packages`,
        payload: await canonicalTarball(tree),
        headers: { 'content-type': 'application/gzip', ...bearer(t) },
      };
    },
    created: 201,
  },
  moonbit: {
    async request(t, _hosted, repo = 'h') {
      const token = await tokenFor(t.registry, 'conf', { scopes: ['publish'] });
      return publishRequest(repo, token, moduleZip({ name: 'conf/beta', version: '1.0.0' }));
    },
    created: 200,
  },
  brioche: {
    async request(t, _hosted, repo = 'h') {
      const projectHash = createHash('sha256').update('project beta').digest('hex');
      return {
        method: 'PUT',
        url: `/${repo}/cache/projects/${projectHash}/source.json`,
        headers: { ...bearer(t), 'if-none-match': '*', 'content-type': 'application/json' },
        payload: JSON.stringify({ artifactHash: createHash('sha256').update('artifact beta').digest('hex') }),
      };
    },
    created: 201,
  },
};

const RETRY_AFTER = '5';

/** Index files a format keeps as blobs rather than documents (paths below the repo root). */
const TARBALL_INDEX: Partial<Record<ConformanceFormat['format'], RegExp>> = { julia: /^registry\// };

/** Asserts a 503 BLOB_STORE_UNAVAILABLE with Retry-After, in the shape `text` reads, and returns the message. */
function expectUnavailable(res: LightMyRequestResponse, text: (res: LightMyRequestResponse) => string, message: RegExp): string {
  expect(res.statusCode, res.body).toBe(503);
  expect(res.headers['retry-after']).toBe(RETRY_AFTER);
  const said = text(res).trimEnd();
  expect(said).toMatch(message);
  // The formats whose shape carries Larder's stable code carry this one.
  if (/"code"/.test(res.body)) expect(res.body).toMatch(/"BLOB_STORE_UNAVAILABLE"/);
  return said;
}

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
});

describe.each(CONFORMANCE_FORMATS)('S3 unreachable: $format', (f) => {
  let up: FakeUpstream;
  let origin: TestApp;
  let t: TestApp;
  let bucket: string;
  let hosted: PublishedPackage;
  let alpha: PublishedPackage;
  let gamma: PublishedPackage;
  /** What clients were served before the outage, by URL. */
  const served = new Map<string, Buffer>();
  const get = (url: string) => t.app.inject({ method: 'GET', url });
  const viaProxy = (p: PublishedPackage) => p.proxiedArtifact ?? p.artifact;
  const docsOf = (p: PublishedPackage) => [...p.repoDocs, p.doc, ...p.extra];
  const storeDown = /^the blob store s3:\/\/larder-test-\d+\/blobs at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED\); /;

  beforeAll(async () => {
    // The proxy's upstream is another Larder's hosted repo (fs blobs, unaffected), its files copied into a fake upstream.
    up = await startFakeUpstream();
    origin = await openTestApp({ repos: [{ name: 'origin', format: f.format, kind: 'hosted', visibility: 'public' }], publicUrl: up.url });
    alpha = await f.publish(origin, 'origin', 'alpha');
    gamma = await f.publish(origin, 'origin', 'gamma');
    for (const prefix of f.forward ?? []) up.forward(`/origin/${prefix}`, forwardTo(origin.app));
    for (const p of new Set([...docsOf(alpha), alpha.artifact, ...docsOf(gamma), gamma.artifact])) {
      const res = await origin.app.inject({ method: 'GET', url: `/origin/${p}` });
      expect(res.statusCode, `${p}: ${res.body}`).toBe(200);
      up.set(`/origin/${p}`, { body: res.rawPayload, headers: { 'content-type': String(res.headers['content-type']) } });
    }
    const blobs = await s3.newBucketUrl();
    bucket = new URL(blobs).hostname;
    t = await openTestApp({
      blobs,
      repos: [
        { name: 'h', format: f.format, kind: 'hosted', visibility: 'public' },
        { name: 'p', format: f.format, kind: 'proxy', visibility: 'public', upstream: `${up.url}/origin/${f.root}` },
      ],
      outbound: { allowPrivate: ['127.0.0.1'] },
    });
    hosted = await f.publish(t, 'h', 'alpha');
    // Everything a client reads, read once while the store is up: alpha through both repos (the proxy stores its
    // archive), gamma's documents through the proxy (its archive is left for the outage).
    for (const url of [...docsOf(hosted).map((p) => `/h/${p}`), `/h/${hosted.artifact}`, ...docsOf(alpha).map((p) => `/p/${p}`)]) {
      const res = await get(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      served.set(url, res.rawPayload);
    }
    const proxied = await get(`/p/${viaProxy(alpha)}`);
    expect(proxied.statusCode, proxied.body).toBe(200);
    served.set(`/p/${viaProxy(alpha)}`, proxied.rawPayload);
    for (const p of docsOf(gamma)) expect((await get(`/p/${p}`)).statusCode).toBe(200);
    await s3.halt();
  });
  afterAll(async () => {
    await s3.restart();
    await t?.stop();
    await origin?.stop();
    await up?.close();
  });

  it('a publish is 503 BLOB_STORE_UNAVAILABLE in the client’s shape, and changes nothing', async () => {
    const request = await WRITES[f.format].request(t, hosted);
    const before = await registryState(t.registry, t.data);
    const keys = await s3.keys(bucket);
    const res = await t.app.inject(request);
    const message = expectUnavailable(res, f.writeErrorText, storeDown);
    expect(message).toMatch(/nothing was stored; retry later$/);
    expect(message).not.toMatch(/S3RVER|endpoint=|region=/);
    expect(await registryState(t.registry, t.data)).toEqual(before);
    expect(await s3.keys(bucket)).toEqual(keys);
  });

  it('index documents keep answering 200 with the same bytes, from the hosted repo and the proxy', async () => {
    for (const [url, body] of served) {
      if (url.endsWith(hosted.artifact) || url.endsWith(viaProxy(alpha))) continue;
      const res = await get(url);
      if (TARBALL_INDEX[f.format]?.test(url.slice(3))) {
        // Julia's registry is itself a tarball in the blob store: while the store is down Pkg cannot update it.
        expectUnavailable(res, f.errorText, storeDown);
        continue;
      }
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.rawPayload.equals(body), url).toBe(true);
    }
  });

  it('the node stays ready (every node shares the store) and /-/readyz says what is wrong with it', async () => {
    const res = await get('/-/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json().blobs).toMatch(/^the blob store s3:\/\/.* cannot be reached/);
  });

  it('a download is 503 in the client’s shape, before any header of a body is sent (GET and HEAD)', async () => {
    const res = await get(`/h/${hosted.artifact}`);
    expect(expectUnavailable(res, f.errorText, storeDown)).toMatch(/the file cannot be sent now; retry later$/);
    expect(res.headers['content-length']).not.toBe(String(served.get(`/h/${hosted.artifact}`)!.length));
    const head = await t.app.inject({ method: 'HEAD', url: `/h/${hosted.artifact}` });
    expect(head.statusCode).toBe(503);
  });

  it('a proxy holding the archive answers 503 and does not fetch it again from its upstream', async () => {
    const requests = up.requests.length;
    const res = await get(`/p/${viaProxy(alpha)}`);
    expectUnavailable(res, f.errorText, storeDown);
    expect(up.requests.length).toBe(requests);
  });

  it('a proxy pulling an archive through cannot store it: 503, and nothing changed', async () => {
    const before = await registryState(t.registry, t.data);
    const keys = await s3.keys(bucket);
    const res = await get(`/p/${viaProxy(gamma)}`);
    expectUnavailable(res, f.errorText, storeDown);
    expect(await registryState(t.registry, t.data)).toEqual(before);
    expect(await s3.keys(bucket)).toEqual(keys);
  });

  it('once the store is back, the same publish succeeds and every download works', async () => {
    await s3.restart();
    const res = await t.app.inject(await WRITES[f.format].request(t, hosted));
    expect(res.statusCode, res.body).toBe(WRITES[f.format].created);
    for (const url of [`/h/${hosted.artifact}`, `/p/${viaProxy(alpha)}`]) {
      const dl = await get(url);
      expect(dl.statusCode, `${url}: ${dl.body}`).toBe(200);
      expect(dl.rawPayload.equals(served.get(url)!), url).toBe(true);
    }
    const pulled = await get(`/p/${viaProxy(gamma)}`);
    expect(pulled.statusCode, pulled.body).toBe(200);
  });
});

describe('filesystem store unusable', () => {
  let t: TestApp;
  let cargo: PublishedPackage;
  let bazel: PublishedPackage;
  const [cargoF, bazelF] = [CONFORMANCE_FORMATS[0]!, CONFORMANCE_FORMATS[1]!];

  beforeAll(async () => {
    t = await openTestApp({
      repos: [
        { name: 'h', format: 'bazel', kind: 'hosted', visibility: 'public' },
        { name: 'hc', format: 'cargo', kind: 'hosted', visibility: 'public' },
      ],
    });
    cargo = await cargoF.publish(t, 'hc', 'alpha');
    bazel = await bazelF.publish(t, 'h', 'alpha');
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Replaces `rel` (under the blob store) with a file for the duration of `fn`, then puts the directory back. */
  async function withFileInstead(rel: string, fn: () => Promise<void>): Promise<void> {
    const dir = path.join(t.data, 'blobs', rel);
    const aside = `${dir}.aside`;
    fs.renameSync(dir, aside);
    fs.writeFileSync(dir, 'not a directory');
    try {
      await fn();
    } finally {
      fs.rmSync(dir);
      fs.renameSync(aside, dir);
    }
  }

  const cases = [
    // Nothing can be staged: the publish fails while its body is read.
    { what: 'the blobs directory', rel: '' },
    // Staging works, the move into place right before COMMIT does not: the transaction rolls back, the staged file goes.
    { what: 'the object directory blobs/sha256', rel: 'sha256' },
  ];

  it.each(cases)(
    '$what replaced by a file: publishes (Cargo, Bazel) and downloads are 503, documents 200, nothing changed',
    async ({ rel }) => {
      const before = await registryState(t.registry, t.data);
      const indexDocs = new Map<string, Buffer>();
      for (const url of [...cargo.repoDocs, cargo.doc].map((p) => `/hc/${p}`).concat([bazel.doc, ...bazel.extra].map((p) => `/h/${p}`)))
        indexDocs.set(url, (await t.app.inject({ method: 'GET', url })).rawPayload);
      const fsDown =
        /^the blob store \(the blobs directory in the data directory\) cannot be used \(ENOTDIR: a file is where a directory is expected\); /;
      await withFileInstead(rel, async () => {
        const c = await t.app.inject(await WRITES.cargo.request(t, cargo, 'hc'));
        expect(expectUnavailable(c, cargoF.writeErrorText, fsDown)).toMatch(/nothing was stored; retry later$/);
        const b = await t.app.inject(await WRITES.bazel.request(t, bazel));
        expectUnavailable(b, bazelF.writeErrorText, fsDown);
        for (const [url, body] of indexDocs) {
          const res = await t.app.inject({ method: 'GET', url });
          expect(res.statusCode, url).toBe(200);
          expect(res.rawPayload.equals(body), url).toBe(true);
        }
        expectUnavailable(await t.app.inject({ method: 'GET', url: `/hc/${cargo.artifact}` }), cargoF.errorText, fsDown);
        expectUnavailable(await t.app.inject({ method: 'GET', url: `/h/${bazel.artifact}` }), bazelF.errorText, fsDown);
      });
      expect(await registryState(t.registry, t.data)).toEqual(before);
    },
  );

  it('once the directory is back, the same publishes succeed and downloads work', async () => {
    const c = await t.app.inject(await WRITES.cargo.request(t, cargo, 'hc'));
    expect(c.statusCode, c.body).toBe(200);
    const b = await t.app.inject(await WRITES.bazel.request(t, bazel));
    expect(b.statusCode, b.body).toBe(201);
    expect((await t.app.inject({ method: 'GET', url: '/hc/api/v1/crates/beta/1.0.0/download' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: `/h/${bazel.artifact}` })).statusCode).toBe(200);
  });
});

describe('larder serve started while S3 is down', () => {
  const root = tempDir('larder-serve-s3-');
  let server: ServeProcess | null = null;
  afterAll(async () => {
    await server?.stop();
    await s3.restart();
    root.remove();
  });

  const publish = async (url: string, name: string) =>
    fetch(`${url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization: TEST_ADMIN_TOKEN },
      body: new Uint8Array((await simplePublishBody(name, '1.0.0')).body),
    });

  it('starts (a node that cannot start would only be restarted in a loop), serves index files, and answers 503 for blob operations', async () => {
    const data = path.join(root.path, 'data');
    const env = { LARDER_BLOBS: await s3.newBucketUrl() };
    // A first run publishes while the store is up.
    server = await startServeProcess({ cwd: root.path, data, env });
    expect((await publish(server.url, 'before_outage')).status).toBe(200);
    const indexFile = await (await fetch(`${server.url}/cargo/index/be/fo/before_outage`)).text();
    await server.stop();
    // The node restarts during the outage.
    await s3.halt();
    server = await startServeProcess({ cwd: root.path, data, env });
    const index = await fetch(`${server.url}/cargo/index/be/fo/before_outage`);
    expect(index.status).toBe(200);
    expect(await index.text()).toBe(indexFile);
    const download = await fetch(`${server.url}/cargo/api/v1/crates/before_outage/1.0.0/download`);
    expect(download.status).toBe(503);
    expect(download.headers.get('retry-after')).toBe(RETRY_AFTER);
    expect(((await download.json()) as { errors: Array<{ detail: string }> }).errors[0]!.detail).toMatch(
      /^the blob store s3:\/\/larder-test-\d+\/blobs at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED\)/,
    );
    const refused = await publish(server.url, 'during_outage');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe(RETRY_AFTER);
    expect(await (await fetch(`${server.url}/cargo/index/du/ri/during_outage`)).status).toBe(404);
    // The store comes back: the same node publishes and serves downloads.
    await s3.restart();
    expect((await publish(server.url, 'during_outage')).status).toBe(200);
    expect((await fetch(`${server.url}/cargo/api/v1/crates/before_outage/1.0.0/download`)).status).toBe(200);
  });
});
