/**
 * Package owners for every format through Larder's API (`/-/api/repos/{repo}/packages/{package}/owners`),
 * shared with Cargo's own owners API, enforced on Bazel and Julia writes, audited.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedPublishBody } from '../../test/support/bazel.js';
import { simplePublishBody, tokenFor } from '../../test/support/cargo.js';
import { juliaPackageTarball } from '../../test/support/julia.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';

const REG = '1b2c3d4e-0000-4000-8000-0000000000bb';
const OTHER_REG = '1b2c3d4e-0000-4000-8000-0000000000cc';
const PKG = '22222222-3333-4444-8555-777777777777';
let larder: TestApp;
let alice: string;
let bob: string;
let mallory: string;

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const owners = (repo: string, pkg: string, method: 'GET' | 'PUT' | 'DELETE' = 'GET', token?: string, users?: unknown) =>
  larder.app.inject({
    method,
    url: `/-/api/repos/${repo}/packages/${pkg}/owners`,
    headers: { ...(token ? auth(token) : {}), ...(users !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(users !== undefined ? { payload: JSON.stringify({ users }) } : {}),
  });

async function bazelPublish(version: string, token: string, module = 'greeter') {
  const { payload, contentType } = await hostedPublishBody(module, version);
  return larder.app.inject({
    method: 'PUT',
    url: `/bazel/api/modules/${module}/${version}`,
    payload,
    headers: { 'content-type': contentType, ...auth(token) },
  });
}
const juliaRegister = async (version: string, token: string, reg = REG) =>
  larder.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${reg}/packages`,
    payload: await juliaPackageTarball('Owned', PKG, version),
    headers: { 'content-type': 'application/gzip', ...auth(token) },
  });

async function ownerRows() {
  return larder.registry.db
    .selectFrom('package_owners')
    .select(['repo_id', 'package', 'user_id'])
    .orderBy('repo_id')
    .orderBy('package')
    .orderBy('user_id')
    .execute();
}
async function auditCount() {
  return Number((await sql<{ n: number }>`select count(*) as n from audit_log`.execute(larder.registry.db)).rows[0].n);
}

beforeAll(async () => {
  larder = await openTestApp({
    repos: [
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
    ],
  });
  const scopes: Array<'publish' | 'yank' | 'owners'> = ['publish', 'yank', 'owners'];
  alice = await tokenFor(larder.registry, 'alice', { scopes, userName: 'Alice' });
  bob = await tokenFor(larder.registry, 'bob', { scopes });
  mallory = await tokenFor(larder.registry, 'mallory', { scopes });
  expect(
    (
      await larder.app.inject({
        method: 'PUT',
        url: '/cargo/api/v1/crates/new',
        payload: (await simplePublishBody('Owned-Crate', '1.0.0')).body,
        headers: { authorization: alice },
      })
    ).statusCode,
  ).toBe(200);
  expect((await bazelPublish('1.0.0', alice)).statusCode).toBe(201);
  for (const [name, uuid] of [
    ['Team', REG],
    ['Other', OTHER_REG],
  ]) {
    expect(
      (await larder.app.inject({ method: 'POST', url: '/julia/api/registries', payload: { name, uuid }, headers: auth(larder.adminToken) }))
        .statusCode,
    ).toBe(201);
  }
  expect((await juliaRegister('0.1.0', alice)).statusCode).toBe(201);
});
afterAll(async () => {
  await larder?.stop();
});

describe('the first publisher owns a package, in every format', () => {
  it("lists alice as the owner of what she published, under each format's own name for it", async () => {
    for (const [repo, pkg, id] of [
      ['cargo', 'owned_crate', 'owned_crate'],
      ['cargo', 'Owned-Crate', 'owned_crate'],
      ['bazel', 'greeter', 'greeter'],
      ['julia', 'Owned', PKG],
      ['julia', PKG, PKG],
    ]) {
      const res = await owners(repo, pkg);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ package: id, users: ['alice'] });
    }
  });

  it("answers 404 in Larder's JSON shape for an unknown repo or package", async () => {
    expect((await owners('nope', 'x')).json()).toMatchObject({ error: { code: 'REPO_NOT_FOUND' } });
    const missing = await owners('bazel', 'absent');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'PACKAGE_NOT_FOUND', message: expect.stringContaining('absent') } });
  });
});

describe("non-owners are refused on every write (the probe's findings), and nothing changes", () => {
  it("Bazel: publish, yank, unyank and metadata edits of alice's module by mallory", async () => {
    const docs = async () => larder.registry.db.selectFrom('index_docs').select(['path', 'etag']).orderBy('path').execute();
    const before = { docs: await docs(), owners: await ownerRows(), audit: await auditCount() };
    const attempts = [
      await bazelPublish('1.1.0', mallory),
      await larder.app.inject({
        method: 'POST',
        url: '/bazel/api/modules/greeter/1.0.0/yank',
        payload: { reason: 'mine now' },
        headers: auth(mallory),
      }),
      await larder.app.inject({ method: 'DELETE', url: '/bazel/api/modules/greeter/1.0.0/yank', headers: auth(mallory) }),
      await larder.app.inject({
        method: 'PATCH',
        url: '/bazel/api/modules/greeter',
        payload: { homepage: 'https://evil.example', maintainers: [{ name: 'mallory' }], deprecated: 'gone' },
        headers: auth(mallory),
      }),
    ];
    for (const res of attempts) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error).toEqual({
        code: 'NOT_OWNER',
        message: expect.stringMatching(/^you \(mallory\) are not an owner of module greeter; ask an owner to add you/),
      });
    }
    expect({ docs: await docs(), owners: await ownerRows(), audit: await auditCount() }).toEqual(before);
  });

  it('Julia: a new version, a yank, and the same package UUID in another registry of the repo', async () => {
    const before = {
      owners: await ownerRows(),
      audit: await auditCount(),
      registries: (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body,
    };
    const attempts = [
      await juliaRegister('0.2.0', mallory),
      await juliaRegister('0.1.0', mallory, OTHER_REG),
      await larder.app.inject({ method: 'POST', url: `/julia/api/registries/${REG}/packages/Owned/0.1.0/yank`, headers: auth(mallory) }),
    ];
    for (const res of attempts) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'NOT_OWNER', message: expect.stringContaining(`package Owned (${PKG})`) });
    }
    expect({
      owners: await ownerRows(),
      audit: await auditCount(),
      registries: (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body,
    }).toEqual(before);
  });

  it('a module nobody owns (imported) can be changed by admins only, and says how to get an owner', async () => {
    await larder.registry.db
      .insertInto('index_docs')
      .values({
        repo_id: larder.registry.repos.get('bazel')!.id,
        path: 'modules/imported/metadata.json',
        body: Buffer.from('{"versions":["1.0.0"]}\n'),
        etag: '"x"',
        updated_at: Date.now(),
      })
      .execute();
    const res = await bazelPublish('2.0.0', alice, 'imported');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toContain('module imported has no owners');
    expect(res.json().error.message).toContain('larder owner add bazel imported alice');
  });
});

describe('owners add and remove owners; admins override; the last owner stays', () => {
  it("an owner adds bob through Larder's API, and Cargo's owners API shows the same list", async () => {
    const before = await auditCount();
    const res = await owners('cargo', 'owned-crate', 'PUT', alice, ['bob']);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ package: 'owned_crate', users: ['alice', 'bob'] });
    const cargo = await larder.app.inject({ method: 'GET', url: '/cargo/api/v1/crates/Owned-Crate/owners' });
    expect(cargo.json().users.map((u: { login: string }) => u.login)).toEqual(['alice', 'bob']);
    const entry = await larder.registry.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(await auditCount()).toBe(before + 1);
    expect(entry).toMatchObject({ action: 'cargo.owner_add', subject: 'Owned-Crate' });
    expect(JSON.parse(entry.detail!)).toEqual({ package: 'owned_crate', users: ['bob'] });
    // bob may now publish
    expect(
      (
        await larder.app.inject({
          method: 'PUT',
          url: '/cargo/api/v1/crates/new',
          payload: (await simplePublishBody('Owned-Crate', '1.1.0')).body,
          headers: { authorization: bob },
        })
      ).statusCode,
    ).toBe(200);
  });

  it('refuses a non-owner, an unknown user, a bad body and removing the last owner, changing nothing', async () => {
    const before = { owners: await ownerRows(), audit: await auditCount() };
    const cases: Array<[Awaited<ReturnType<typeof owners>>, number, string, string]> = [
      [await owners('bazel', 'greeter', 'PUT', mallory, ['mallory']), 403, 'NOT_OWNER', 'not an owner of module greeter'],
      [await owners('bazel', 'greeter', 'PUT', alice, ['nobody']), 404, 'USER_NOT_FOUND', 'larder user add nobody'],
      [await owners('bazel', 'greeter', 'PUT', alice, []), 400, 'OWNER_INVALID', '{"users":["login", …]}'],
      [await owners('bazel', 'greeter', 'DELETE', alice, ['alice']), 400, 'LAST_OWNER', 'module greeter must keep at least one owner'],
      [await owners('bazel', 'greeter', 'PUT', undefined, ['bob']), 401, 'AUTH_REQUIRED', 'token'],
    ];
    for (const [res, status, code, text] of cases) {
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json().error.code).toBe(code);
      expect(res.json().error.message).toContain(text);
    }
    expect({ owners: await ownerRows(), audit: await auditCount() }).toEqual(before);
  });

  it('an admin adds and removes owners of a package it does not own; owners hand a Julia package over', async () => {
    expect((await owners('bazel', 'greeter', 'PUT', larder.adminToken, ['bob'])).json()).toEqual({
      package: 'greeter',
      users: ['alice', 'bob'],
    });
    expect((await owners('bazel', 'greeter', 'DELETE', larder.adminToken, ['alice'])).json()).toEqual({
      package: 'greeter',
      users: ['bob'],
    });
    expect((await bazelPublish('1.2.0', alice)).statusCode).toBe(403);
    expect((await bazelPublish('1.2.0', bob)).statusCode).toBe(201);

    expect((await owners('julia', 'Owned', 'PUT', alice, ['mallory'])).statusCode).toBe(200);
    expect((await owners('julia', PKG, 'DELETE', mallory, ['alice'])).json()).toEqual({ package: PKG, users: ['mallory'] });
    expect((await juliaRegister('0.3.0', alice)).statusCode).toBe(403);
    expect((await juliaRegister('0.3.0', mallory)).statusCode).toBe(201);
    const actions = await larder.registry.db
      .selectFrom('audit_log')
      .select('action')
      .where('action', 'like', '%.owner_%')
      .orderBy('id')
      .execute();
    expect(actions.map((a) => a.action)).toEqual([
      'cargo.owner_add',
      'bazel.owner_add',
      'bazel.owner_remove',
      'julia.owner_add',
      'julia.owner_remove',
    ]);
  });
});

describe('a private repo', () => {
  it('shows owners only to readers, and no package to a token that may not see it', async () => {
    const priv = await openTestApp({ repos: [{ name: 'secret', format: 'bazel', kind: 'hosted', visibility: 'private' }] });
    try {
      const { payload, contentType } = await hostedPublishBody('hidden', '1.0.0');
      expect(
        (
          await priv.app.inject({
            method: 'PUT',
            url: '/secret/api/modules/hidden/1.0.0',
            payload,
            headers: { 'content-type': contentType, ...auth(priv.adminToken) },
          })
        ).statusCode,
      ).toBe(201);
      const url = '/-/api/repos/secret/packages/hidden/owners';
      const anonymous = await priv.app.inject({ method: 'GET', url });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error.code).toBe('AUTH_REQUIRED');
      const other = await tokenFor(priv.registry, 'carol', { scopes: ['read'], packagePattern: 'visible-*' });
      expect((await priv.app.inject({ method: 'GET', url, headers: auth(other) })).json().error.code).toBe('PACKAGE_NOT_FOUND');
      const reader = await tokenFor(priv.registry, 'dave', { scopes: ['read'] });
      expect((await priv.app.inject({ method: 'GET', url, headers: auth(reader) })).json()).toEqual({
        package: 'hidden',
        users: ['admin'],
      });
    } finally {
      await priv.stop();
    }
  });
});
