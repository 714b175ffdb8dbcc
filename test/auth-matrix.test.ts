/**
 * The ownership and auth matrix, generated from the server's own route table: every write route
 * (not GET/HEAD) of every format and of Larder's API × every kind of caller, asserting the status
 * and error shape a client sees, and that a refusal changed nothing. A write route missing from
 * ROUTES below fails the test: new routes must say how they are authorised.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedPublishBody } from './support/bazel.js';
import { hashOf, putProject } from './support/brioche-registry.js';
import { expectCargoError, simplePublishBody, tokenFor } from './support/cargo.js';
import { artifactTarball, juliaPackageTarball } from './support/julia.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { moduleZip, publishForm } from './support/moonbit-publish.js';
import { snapshotFiles } from './support/tmp.js';

const WHO = ['none', 'garbage', 'revoked', 'expired', 'otherRepo', 'otherPackage', 'missingScope', 'nonOwner', 'owner', 'admin'] as const;
type Who = (typeof WHO)[number];

const REFUSED: Record<Exclude<Who, 'owner' | 'admin'>, [number, string]> = {
  none: [401, 'AUTH_REQUIRED'],
  garbage: [401, 'TOKEN_INVALID'],
  revoked: [401, 'TOKEN_REVOKED'],
  expired: [401, 'TOKEN_EXPIRED'],
  otherRepo: [403, 'REPO_NOT_PERMITTED'],
  otherPackage: [403, 'PACKAGE_NOT_PERMITTED'],
  missingScope: [403, 'SCOPE_MISSING'],
  nonOwner: [403, 'NOT_OWNER'],
};

const REG = '1b2c3d4e-0000-4000-8000-0000000000aa';
const PKG = '22222222-3333-4444-8555-666666666666';
const PROJECT = hashOf('brioche project owned');

interface Entry {
  /**
   * How the client renders errors: Cargo's `{"errors":[{"detail"}]}`, Larder's `{"error":{"code","message"}}`, MoonBit's
   * `{"detail","code"}`, Brioche's `{"error","code"}`.
   */
  shape: 'cargo' | 'json' | 'moonbit' | 'brioche';
  /** A request as this caller would send it; `n` is unique per call, so successes never collide. */
  build(n: number): Promise<Omit<InjectOptions, 'headers'> & { headers?: Record<string, string> }>;
  /** Outcomes that differ from the defaults (REFUSED, and 2xx for owner and admin). */
  expect?: Partial<Record<Who, [number, string] | 'ok'>>;
}

const json = (method: InjectOptions['method'], url: string, body?: unknown) => async () => ({
  method,
  url,
  ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
});

/** Every write route, by `METHOD /url` as Fastify registered it. */
const ROUTES: Record<string, Entry | { exempt: string }> = {
  'PUT /cargo/api/v1/crates/new': {
    shape: 'cargo',
    build: async (n) => ({ method: 'PUT', url: '/cargo/api/v1/crates/new', payload: (await simplePublishBody('owned', `1.${n}.0`)).body }),
  },
  'DELETE /cargo/api/v1/crates/:crate/:version/yank': { shape: 'cargo', build: json('DELETE', '/cargo/api/v1/crates/owned/1.0.0/yank') },
  'PUT /cargo/api/v1/crates/:crate/:version/unyank': { shape: 'cargo', build: json('PUT', '/cargo/api/v1/crates/owned/1.0.0/unyank') },
  'PUT /cargo/api/v1/crates/:crate/owners': { shape: 'cargo', build: json('PUT', '/cargo/api/v1/crates/owned/owners', { users: ['bob'] }) },
  'DELETE /cargo/api/v1/crates/:crate/owners': {
    shape: 'cargo',
    build: json('DELETE', '/cargo/api/v1/crates/owned/owners', { users: ['bob'] }),
  },
  'PUT /bazel/api/modules/:module/:version': {
    shape: 'json',
    build: async (n) => {
      const { payload, contentType } = await hostedPublishBody('owned', `3.${n}.0`);
      return { method: 'PUT', url: `/bazel/api/modules/owned/3.${n}.0`, payload, headers: { 'content-type': contentType } };
    },
  },
  'POST /bazel/api/modules/:module/:version/yank': {
    shape: 'json',
    build: json('POST', '/bazel/api/modules/owned/1.0.0/yank', { reason: 'broken, use 2.0.0' }),
  },
  'DELETE /bazel/api/modules/:module/:version/yank': { shape: 'json', build: json('DELETE', '/bazel/api/modules/owned/1.0.0/yank') },
  'PATCH /bazel/api/modules/:module': {
    shape: 'json',
    build: json('PATCH', '/bazel/api/modules/owned', { homepage: 'https://example.com/owned' }),
  },
  'POST /julia/api/registries': {
    shape: 'json',
    build: async (n) =>
      json('POST', '/julia/api/registries', { name: `Reg${n}`, uuid: `1b2c3d4e-0000-4000-8000-${String(n).padStart(12, '0')}` })(),
    // Creating a registry changes the repo: admins only, whoever owns what.
    expect: {
      otherRepo: [403, 'SCOPE_MISSING'],
      otherPackage: [403, 'SCOPE_MISSING'],
      nonOwner: [403, 'SCOPE_MISSING'],
      owner: [403, 'SCOPE_MISSING'],
    },
  },
  'PUT /julia/api/registries/:uuid/packages': {
    shape: 'json',
    build: async (n) => ({
      method: 'PUT',
      url: `/julia/api/registries/${REG}/packages`,
      payload: await juliaPackageTarball('Owned', PKG, `0.${n}.0`),
      headers: { 'content-type': 'application/gzip' },
    }),
  },
  'PUT /julia/api/registries/:uuid/packages/:name/artifacts': {
    shape: 'json',
    build: async (n) => ({
      method: 'PUT',
      url: `/julia/api/registries/${REG}/packages/Owned/artifacts`,
      payload: await artifactTarball(`artifact ${n}\n`),
      headers: { 'content-type': 'application/gzip' },
    }),
  },
  'POST /julia/api/registries/:uuid/packages/:name/:version/yank': {
    shape: 'json',
    build: json('POST', `/julia/api/registries/${REG}/packages/Owned/0.1.0/yank`),
  },
  'DELETE /julia/api/registries/:uuid/packages/:name/:version/yank': {
    shape: 'json',
    build: json('DELETE', `/julia/api/registries/${REG}/packages/Owned/0.1.0/yank`),
  },
  // MoonBit: the token in a header is checked before the body; the module (and so the namespace,
  // the token's package pattern and ownership) only once the zip is read.
  'POST /moonbit/api/v0/publish': {
    shape: 'moonbit',
    build: async (n) => ({
      method: 'POST',
      url: '/moonbit/api/v0/publish',
      ...(await publishForm([['file', moduleZip({ name: 'alice/owned', version: `2.${n}.0` })]])),
    }),
  },
  'POST /moonbit/api/v0/yank': {
    shape: 'moonbit',
    build: json('POST', '/moonbit/api/v0/yank', { module: 'alice/owned', version: '1.0.0', reason: 'broken, use 2.0.0' }),
  },
  'POST /moonbit/api/v0/deprecate': {
    shape: 'moonbit',
    build: json('POST', '/moonbit/api/v0/deprecate', { Deprecate: { module: 'alice/owned', reason: 'use alice/better', undo: false } }),
  },
  // Brioche: brioche sends Basic admin:<password> (a token works as the password); no Authorization at all is 403 as
  // its reference server answers; the projects (pattern, ownership) are named in the body.
  'POST /brioche/registry/v0/project-tags': {
    shape: 'brioche',
    build: json('POST', '/brioche/registry/v0/project-tags', { tags: [{ projectName: 'owned', tag: 'latest', projectHash: PROJECT }] }),
    expect: { none: [403, 'CREDENTIALS_REQUIRED'] },
  },
  // Brioche's cache: content-addressed objects of no project, so publish on the repo is enough (no owners, no package limit).
  'PUT /brioche/cache/*': {
    shape: 'brioche',
    build: async (n) => ({
      method: 'PUT',
      url: `/brioche/cache/bakes/${n.toString(16).padStart(64, '0')}/output.json`,
      payload: JSON.stringify({ outputHash: 'a'.repeat(64) }),
      headers: { 'content-type': 'application/json', 'if-none-match': '*' },
    }),
    expect: { otherPackage: 'ok', nonOwner: 'ok' },
  },
  'POST /julia/:reg.git/*': { exempt: 'git smart HTTP: POST git-upload-pack is a fetch (a read); the read gate covers it' },
  'POST /moonbit/git/index/*': { exempt: 'git smart HTTP: POST git-upload-pack is a fetch (a read); the read gate covers it' },
  'POST /cargo/git/index/*': {
    exempt: 'git smart HTTP: POST git-upload-pack is a fetch (a read); pushes are refused; see src/formats/cargo/git-routes.test.ts',
  },
  // The S3 endpoint authenticates by SigV4 access keys, not tokens, and answers in S3 XML: test/s3-endpoint.test.ts covers
  // PutObject per caller (no signature, wrong secret, unknown key, revoked/expired token, read-only, other repo).
  'PUT /-/s3/*': { exempt: 'S3 PutObject: SigV4 with access keys bound to tokens; see test/s3-endpoint.test.ts' },
  'POST /-/s3/*': { exempt: 'S3: 501 NotImplemented after the SigV4 check; see test/s3-endpoint.test.ts' },
  'DELETE /-/s3/*': { exempt: 'S3 DeleteObject: 501 NotImplemented after the SigV4 check; see test/s3-endpoint.test.ts' },
  'PATCH /-/s3/*': { exempt: 'S3: 501 NotImplemented after the SigV4 check; see test/s3-endpoint.test.ts' },
  // The web UI's forms act with the signed-in session's token, never an Authorization header: each is refused without
  // the session's CSRF token (403) before anything is read, then applies the same rules as the API it mirrors.
  'POST /-/sign-in': { exempt: 'web sign-in: a token in the form, with a double-submit CSRF cookie; see src/web/plugin.test.ts' },
  'POST /-/sign-out': { exempt: 'web sign-out: session cookie + CSRF; see src/web/plugin.test.ts' },
  'POST /-/account/tokens': {
    exempt: 'web token creation: session + CSRF, the rules of POST /-/api/tokens (token-actions.ts); see src/web/pages/tokens.test.ts',
  },
  'POST /-/account/tokens/:id/revoke': {
    exempt: 'web token revocation: session + CSRF, the rules of DELETE /-/api/tokens/:id; see src/web/pages/tokens.test.ts',
  },
  'POST /-/admin/users': { exempt: 'web user creation: session + CSRF + admin scope; see src/web/pages/admin.test.ts' },
  'PUT /-/api/repos/:repo/packages/:package/owners': {
    shape: 'json',
    build: json('PUT', '/-/api/repos/bazel/packages/owned/owners', { users: ['bob'] }),
  },
  'DELETE /-/api/repos/:repo/packages/:package/owners': {
    shape: 'json',
    build: json('DELETE', '/-/api/repos/bazel/packages/owned/owners', { users: ['bob'] }),
  },
  // Tokens: every user manages their own ("owner" and "nonOwner" alike), never wider than the calling token.
  'POST /-/api/tokens': {
    shape: 'json',
    build: async (n) => json('POST', '/-/api/tokens', { name: `t${n}`, scopes: ['publish'] })(),
    expect: {
      otherRepo: [403, 'TOKEN_TOO_WIDE'],
      otherPackage: [403, 'TOKEN_TOO_WIDE'],
      missingScope: [403, 'TOKEN_TOO_WIDE'],
      nonOwner: 'ok',
    },
  },
  'DELETE /-/api/tokens/:id': {
    shape: 'json',
    // A fresh publish token of alice's each time; another user's token is "not found" to a non-admin.
    build: async () =>
      json('DELETE', `/-/api/tokens/${(await larder.registry.auth.createToken({ login: 'alice', scopes: ['publish'] })).row.id}`)(),
    expect: {
      otherRepo: [403, 'TOKEN_TOO_WIDE'],
      otherPackage: [403, 'TOKEN_TOO_WIDE'],
      missingScope: [403, 'TOKEN_TOO_WIDE'],
      nonOwner: [404, 'NOT_FOUND'],
    },
  },
  'POST /-/api/users': {
    shape: 'json',
    build: async (n) => json('POST', '/-/api/users', { login: `user${n}` })(),
    expect: {
      otherRepo: [403, 'SCOPE_MISSING'],
      otherPackage: [403, 'SCOPE_MISSING'],
      nonOwner: [403, 'SCOPE_MISSING'],
      owner: [403, 'SCOPE_MISSING'],
    },
  },
};

let larder: TestApp;
const routes = new Set<string>();
const tokens = {} as Record<Who, string | null>;
let counter = 0;

beforeAll(async () => {
  larder = await openTestApp({
    repos: [
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'moonbit', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      { name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public' },
    ],
    onRoute: (r) => {
      for (const m of [r.method].flat()) if (!['GET', 'HEAD', 'OPTIONS'].includes(m)) routes.add(`${m} ${r.url}`);
    },
  });
  const { registry } = larder;
  const all = { scopes: ['publish', 'yank', 'owners'] as const };
  tokens.none = null;
  tokens.garbage = 'larder_not-a-real-token';
  tokens.owner = await tokenFor(registry, 'alice', { scopes: [...all.scopes] });
  tokens.nonOwner = await tokenFor(registry, 'mallory', { scopes: [...all.scopes] });
  tokens.otherRepo = await tokenFor(registry, 'alice', { scopes: [...all.scopes], repoPattern: 'elsewhere' });
  tokens.otherPackage = await tokenFor(registry, 'alice', { scopes: [...all.scopes], packagePattern: 'zzz*' });
  tokens.missingScope = await tokenFor(registry, 'alice', { scopes: ['read'] });
  tokens.revoked = await tokenFor(registry, 'alice', { scopes: [...all.scopes] });
  await registry.auth.revokeToken(String((await registry.auth.authenticate(tokens.revoked)).tokenId));
  tokens.expired = await tokenFor(registry, 'alice', { scopes: [...all.scopes], expiresInMs: 1 });
  tokens.admin = larder.adminToken;
  await registry.auth.createUser('bob');

  // alice publishes one package per format, so she owns each.
  const as = (token: string | null) => (token ? { authorization: token } : {});
  const ok = async (req: Awaited<ReturnType<Entry['build']>>, token: string | null) => {
    const res = await larder.app.inject({ ...req, headers: { ...req.headers, ...as(token) } } as InjectOptions);
    expect(res.statusCode, `${req.method} ${req.url}: ${res.body}`).toBeLessThan(300);
  };
  await ok({ method: 'PUT', url: '/cargo/api/v1/crates/new', payload: (await simplePublishBody('owned', '1.0.0')).body }, tokens.owner);
  for (const v of ['1.0.0', '2.0.0']) {
    const { payload, contentType } = await hostedPublishBody('owned', v);
    await ok({ method: 'PUT', url: `/bazel/api/modules/owned/${v}`, payload, headers: { 'content-type': contentType } }, tokens.owner);
  }
  await ok(
    {
      method: 'POST',
      url: '/moonbit/api/v0/publish',
      ...(await publishForm([['file', moduleZip({ name: 'alice/owned', version: '1.0.0' })]])),
    },
    tokens.owner,
  );
  await putProject(registry, 'brioche', PROJECT);
  await ok(
    await json('POST', '/brioche/registry/v0/project-tags', { tags: [{ projectName: 'owned', tag: '1.0.0', projectHash: PROJECT }] })(),
    tokens.owner,
  );
  await ok(await json('POST', '/julia/api/registries', { name: 'Team', uuid: REG })(), tokens.admin);
  await ok(
    {
      method: 'PUT',
      url: `/julia/api/registries/${REG}/packages`,
      payload: await juliaPackageTarball('Owned', PKG, '0.1.0'),
      headers: { 'content-type': 'application/gzip' },
    },
    tokens.owner,
  );
});
afterAll(async () => {
  await larder?.stop();
});

/** Everything a write could change: row counts, every index document's ETag, the blob files. */
async function state() {
  const counts: Record<string, number> = {};
  for (const table of [
    'users',
    'tokens',
    'package_owners',
    'audit_log',
    'blobs',
    'cargo_crates',
    'cargo_versions',
    'bazel_versions',
    'bazel_archives',
    'julia_registries',
    'julia_tarballs',
    'moonbit_versions',
    'brioche_tags',
    'brioche_objects',
    'git_history',
  ]) {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(larder.registry.db);
    counts[table] = Number(r.rows[0].n);
  }
  const active = await larder.registry.db.selectFrom('tokens').select('id').where('revoked_at', 'is', null).execute();
  counts.active_tokens = active.length;
  const docs = await larder.registry.db
    .selectFrom('index_docs')
    .select(['repo_id', 'path', 'etag'])
    .orderBy('repo_id')
    .orderBy('path')
    .execute();
  return { counts, docs, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
}

function expectJsonError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error?.code).toBe(code);
  expect(typeof body.error?.message === 'string' && body.error.message.length > 10).toBe(true);
}

/** MoonBit's error shape (protocols/moonbit.md §9): `{"detail": "…"}`, with Larder's code alongside. */
function expectDetailError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { detail?: unknown; code?: unknown };
  expect(body.code).toBe(code);
  expect(typeof body.detail === 'string' && body.detail.length > 10).toBe(true);
}

/** Brioche's registry error shape (protocols/brioche.md §2.4): `{"error": "…"}`, with Larder's code alongside. */
function expectBriocheError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error?: unknown; code?: unknown };
  expect(body.code).toBe(code);
  expect(typeof body.error === 'string' && body.error.length > 10).toBe(true);
}

describe('the auth matrix', () => {
  it('has an entry for every write route the server registers, and no stale ones', () => {
    expect(routes.size).toBeGreaterThan(10);
    const missing = [...routes].filter((r) => !(r in ROUTES));
    expect(missing, 'write routes without an auth matrix entry: add them to ROUTES in test/auth-matrix.test.ts').toEqual([]);
    expect(
      Object.keys(ROUTES).filter((r) => !routes.has(r)),
      'ROUTES entries for routes the server no longer has',
    ).toEqual([]);
  });

  for (const [route, entry] of Object.entries(ROUTES)) {
    if ('exempt' in entry) continue;
    it(`${route}: refuses every caller but owners and admins, and a refusal changes nothing`, async () => {
      for (const who of WHO) {
        const outcome = entry.expect?.[who] ?? (who === 'owner' || who === 'admin' ? 'ok' : REFUSED[who]);
        const req = await entry.build(++counter);
        const token = tokens[who];
        const before = outcome === 'ok' ? null : await state();
        const res = await larder.app.inject({
          ...req,
          headers: { ...req.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        } as InjectOptions);
        const label = `${route} as ${who}: ${res.statusCode} ${res.body}`;
        if (outcome === 'ok') {
          expect(res.statusCode, label).toBeGreaterThanOrEqual(200);
          expect(res.statusCode, label).toBeLessThan(300);
          continue;
        }
        const [status, code] = outcome;
        expect(res.statusCode, label).toBe(status);
        if (entry.shape === 'cargo') expectCargoError(res, status);
        else if (entry.shape === 'moonbit') expectDetailError(res, status, code);
        else if (entry.shape === 'brioche') expectBriocheError(res, status, code);
        else expectJsonError(res, status, code);
        expect(await state(), label).toEqual(before);
      }
    });
  }
});
