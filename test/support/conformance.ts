/**
 * What the conformance suite (test/conformance.test.ts) needs to know of each format: how to publish
 * one package to a hosted repo, which URLs a client reads for it, and the shape of its errors. The
 * suite runs the same cases over every format × kind (as Hono runs one suite against every router).
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { treeHash, type FileTree } from '../../src/formats/julia/tree-hash.js';
import { canonicalTarball } from '../../src/formats/julia/tarball.js';
import { hostedPublishBody } from './bazel.js';
import { simplePublishBody } from './cargo.js';
import { projectToml } from './julia.js';
import type { TestApp } from './larder.js';
import { putModule } from './moonbit.js';

/** One package as a client of the format reaches it in a repo. */
export interface PublishedPackage {
  /** The package name as the format's parts name it (the group routing key). */
  name: string;
  /** The document a client resolves the package with (relative to the repo root). */
  doc: string;
  /** Repo-level documents the client reads first (relative to the repo root). */
  repoDocs: string[];
  /** The archive a client downloads (relative to the repo root). */
  artifact: string;
  /** Where a client downloads the archive through a proxy or group, when that differs (Bazel: the archive mirror). */
  proxiedArtifact?: string;
  /** Other files an upstream must serve for a proxy to answer the above (relative to the repo root). */
  extra: string[];
}

/** A format as the conformance suite drives it. */
export interface ConformanceFormat {
  format: 'cargo' | 'bazel' | 'julia' | 'moonbit' | 'brioche';
  /** Where the client's registry root is within a hosted repo (Cargo: the sparse index at `index/`); a proxy's upstream points there. */
  root: string;
  /** Publishes a package to hosted repo `repo` of `t`, through the format's publish API. */
  publish(t: TestApp, repo: string, name: string): Promise<PublishedPackage>;
  /** The path of a document (or archive) of a package nobody has, named `name`. */
  missing(name: string): string;
  /** A write request a read-only repo must refuse (relative to the repo root). */
  write: { method: 'PUT' | 'POST'; url: string; payload: Buffer | object; headers?: Record<string, string> };
  /**
   * Paths below the registry root that the upstream answers live from the origin rather than from
   * copied files (MoonBit's git index: `git/`).
   */
  forward?: string[];
  /**
   * A proxy copies the upstream's whole index at each sync (a git index): a package absent from the
   * last copy is a 404 even while the upstream is down, not a 5xx.
   */
  wholeIndex?: boolean;
  /** What a private repo answers a request without credentials: 401, or what the ecosystem's own server answers (Brioche: 403). */
  deniedStatus?: number;
  /** Asserts a response is an error in the shape the format's client prints, and returns its message. */
  errorText(res: LightMyRequestResponse): string;
  /** The same for the write API (Larder's JSON API where the ecosystem has no publish protocol). */
  writeErrorText(res: LightMyRequestResponse): string;
}

const auth = (t: TestApp) => ({ authorization: `Bearer ${t.adminToken}` });
const larderApiError = (res: LightMyRequestResponse) => {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return (res.json() as { error: { code: string; message: string } }).error.message;
};
const plainText = (res: LightMyRequestResponse) => {
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  return res.body;
};

export const cargoConformance: ConformanceFormat = {
  format: 'cargo',
  root: 'index',
  async publish(t, repo, name) {
    const { body } = await simplePublishBody(name, '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: `/${repo}/api/v1/crates/new`,
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
    const path = name.length > 3 ? `${name.slice(0, 2)}/${name.slice(2, 4)}/${name}` : `${name.length}/${name}`;
    return { name, doc: `index/${path}`, repoDocs: ['index/config.json'], artifact: `api/v1/crates/${name}/1.0.0/download`, extra: [] };
  },
  missing: (name) => `index/${name.slice(0, 2)}/${name.slice(2, 4)}/${name}`,
  write: { method: 'PUT', url: 'api/v1/crates/new', payload: Buffer.alloc(8) },
  errorText(res) {
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const detail = (res.json() as { errors: Array<{ detail: string }> }).errors[0]?.detail;
    expect(typeof detail).toBe('string');
    return detail!;
  },
  writeErrorText(res) {
    return cargoConformance.errorText(res);
  },
};

export const bazelConformance: ConformanceFormat = {
  format: 'bazel',
  root: '',
  async publish(t, repo, name) {
    const { payload, contentType } = await hostedPublishBody(name, '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: `/${repo}/api/modules/${name}/1.0.0`,
      payload,
      headers: { 'content-type': contentType, ...auth(t) },
    });
    expect(res.statusCode, res.body).toBe(201);
    return {
      name,
      doc: `modules/${name}/metadata.json`,
      repoDocs: ['bazel_registry.json'],
      artifact: `archives/${name}/1.0.0/${name}-1.0.0.tar.gz`,
      // Through a proxy, Bazel downloads the archive source.json names via the mirror bazel_registry.json lists.
      proxiedArtifact: `mirror/${new URL(t.registry.config.publicUrl!).host}/${repo}/archives/${name}/1.0.0/${name}-1.0.0.tar.gz`,
      extra: [`modules/${name}/1.0.0/MODULE.bazel`, `modules/${name}/1.0.0/source.json`],
    };
  },
  missing: (name) => `modules/${name}/metadata.json`,
  write: {
    method: 'PUT',
    url: 'api/modules/x/1.0.0',
    payload: Buffer.alloc(8),
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
  },
  errorText: plainText,
  writeErrorText: larderApiError,
};

/** The registry every Julia conformance repo holds packages in (created on first publish). */
const JULIA_REGISTRY = '7a2c46d4-1a3e-4d1c-9d5c-2f0d8c9b6a11';

export const juliaConformance: ConformanceFormat = {
  format: 'julia',
  root: '',
  async publish(t, repo, lowerName) {
    // Julia package names start with an upper-case letter.
    const name = lowerName[0]!.toUpperCase() + lowerName.slice(1);
    const exists = await t.app.inject({ method: 'GET', url: `/${repo}/registries` });
    if (!exists.body.includes(JULIA_REGISTRY)) {
      const created = await t.app.inject({
        method: 'POST',
        url: `/${repo}/api/registries`,
        payload: { name: 'Conformance', uuid: JULIA_REGISTRY, description: 'conformance suite' },
        headers: auth(t),
      });
      expect(created.statusCode, created.body).toBe(201);
    }
    // A UUID derived from the name, so each package is distinct and stable.
    const hex = Buffer.from(name.padEnd(16, '0')).toString('hex').slice(0, 32);
    const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    const tree: FileTree = new Map([
      ['Project.toml', { kind: 'file', data: Buffer.from(projectToml(name, uuid, '1.0.0')) }],
      [`src/${name}.jl`, { kind: 'file', data: Buffer.from(`module ${name} end\n`) }],
    ]);
    const res = await t.app.inject({
      method: 'PUT',
      url: `/${repo}/api/registries/${JULIA_REGISTRY}/packages`,
      payload: await canonicalTarball(tree),
      headers: { 'content-type': 'application/gzip', ...auth(t) },
    });
    expect(res.statusCode, res.body).toBe(201);
    const listing = (await t.app.inject({ method: 'GET', url: `/${repo}/registries` })).body.trim().split('\n');
    const registryLine = listing.find((l) => l.includes(JULIA_REGISTRY))!;
    return { name: uuid, doc: 'registries', repoDocs: [], artifact: `package/${uuid}/${treeHash(tree)}`, extra: [registryLine.slice(1)] };
  },
  missing: (name) => `package/00000000-0000-4000-8000-${Buffer.from(name).toString('hex').padEnd(12, '0').slice(0, 12)}/${'0'.repeat(40)}`,
  write: { method: 'POST', url: 'api/registries', payload: { name: 'X', uuid: JULIA_REGISTRY } },
  errorText: plainText,
  writeErrorText: larderApiError,
};

/** An upstream handler that answers with what `app` answers (through inject), for `FakeUpstream.forward`. */
export function forwardTo(app: FastifyInstance): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['transfer-encoding'];
      const method = (req.method ?? 'GET') as 'GET' | 'POST' | 'HEAD';
      app
        .inject({ method, url: req.url ?? '/', headers, ...(method === 'POST' ? { payload: Buffer.concat(chunks) } : {}) })
        .then((out) => {
          const h = { ...out.headers };
          for (const k of ['transfer-encoding', 'connection', 'content-length', 'keep-alive']) delete h[k];
          res.writeHead(out.statusCode, { ...h, 'content-length': String(out.rawPayload.length) } as http.OutgoingHttpHeaders);
          res.end(out.rawPayload);
        })
        .catch(() => res.destroy());
    });
  };
}

const detailText = (res: LightMyRequestResponse) => {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const detail = (res.json() as { detail?: unknown }).detail;
  expect(typeof detail).toBe('string');
  return detail as string;
};

export const moonbitConformance: ConformanceFormat = {
  format: 'moonbit',
  root: '',
  async publish(t, repo, name) {
    // Written as the publish route writes it (store.ts appendVersion), so this adapter needs no zip upload.
    const m = await putModule(t.registry, repo, `conf/${name}`, '1.0.0');
    return {
      name: m.module,
      doc: `index/user/${m.module}.index`,
      repoDocs: [],
      artifact: `user/${encodeURIComponent(`${m.module}/${m.version}`)}.zip`,
      extra: [],
    };
  },
  missing: (name) => `user/conf%2F${name}%2F1.0.0.zip`,
  forward: ['git/'],
  wholeIndex: true,
  write: {
    method: 'POST',
    url: 'api/v0/publish',
    payload: Buffer.alloc(8),
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
  },
  errorText: detailText,
  writeErrorText: detailText,
};

const errorText = (res: LightMyRequestResponse) => {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const error = (res.json() as { error?: unknown }).error;
  expect(typeof error).toBe('string');
  return error as string;
};

export const briocheConformance: ConformanceFormat = {
  format: 'brioche',
  root: '',
  async publish(t, repo, name) {
    // As brioche publish does: the project's source.json into the cache (create-only), then the tag.
    const projectHash = createHash('sha256').update(`project ${repo} ${name}`).digest('hex');
    const key = `projects/${projectHash}/source.json`;
    const put = await t.app.inject({
      method: 'PUT',
      url: `/${repo}/cache/${key}`,
      headers: { ...auth(t), 'if-none-match': '*', 'content-type': 'application/json' },
      payload: JSON.stringify({ artifactHash: createHash('sha256').update(`artifact ${name}`).digest('hex') }),
    });
    expect(put.statusCode, put.body).toBe(201);
    const tag = await t.app.inject({
      method: 'POST',
      url: `/${repo}/registry/v0/project-tags?brioche=0.1.7`,
      headers: { ...auth(t), 'content-type': 'application/json' },
      payload: { tags: [{ projectName: name, tag: 'latest', projectHash }] },
    });
    expect(tag.statusCode, tag.body).toBe(200);
    return { name, doc: `registry/v0/project-tags/${name}/latest`, repoDocs: [], artifact: `cache/${key}`, extra: [] };
  },
  missing: (name) => `registry/v0/project-tags/${name}/latest`,
  // The reference registry answers a request without credentials with 403 "credentials required" (protocols/brioche.md §2.4).
  deniedStatus: 403,
  write: { method: 'POST', url: 'registry/v0/project-tags', payload: { tags: [] }, headers: { 'content-type': 'application/json' } },
  errorText,
  writeErrorText: errorText,
};

export const CONFORMANCE_FORMATS = [cargoConformance, bazelConformance, juliaConformance, moonbitConformance, briocheConformance];
