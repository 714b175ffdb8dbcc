import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { patternWithin } from '../registry/token-policy.js';

let t: TestApp;
let aliceToken: string; // publish + yank on cargo, packages alice-*, expires in 10 days

beforeAll(async () => {
  t = await openTestApp();
  await t.registry.auth.createUser('alice');
  await t.registry.auth.createUser('bob');
  aliceToken = (
    await t.registry.auth.createToken({
      login: 'alice',
      scopes: ['publish', 'yank'],
      repoPattern: 'cargo',
      packagePattern: 'alice-*',
      expiresInMs: 10 * 86_400_000,
    })
  ).token;
});
afterAll(async () => {
  await t?.stop();
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
async function call(method: 'GET' | 'POST' | 'DELETE', url: string, token: string | null, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: token ? auth(token) : {},
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field, as a client would
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}
const tokenCount = async () => (await t.registry.auth.listTokens()).length;
const activeCount = async () => (await t.registry.auth.listTokens()).filter((r) => r.revoked_at == null).length;
const userCount = async () => (await t.registry.auth.listUsers()).length;

describe('GET /-/api/me', () => {
  it('names the user and the token, never its secret', async () => {
    const { status, body } = await call('GET', '/-/api/me', aliceToken);
    expect(status).toBe(200);
    expect(body.user).toMatchObject({ login: 'alice', admin: false });
    expect(body.token).toMatchObject({ user: 'alice', scopes: ['publish', 'yank'], repo: 'cargo', package: 'alice-*', state: 'active' });
    expect(JSON.stringify(body)).not.toContain(aliceToken);
  });

  it('answers 401 without a token and with a garbage one', async () => {
    expect(await call('GET', '/-/api/me', null)).toMatchObject({ status: 401, body: { error: { code: 'AUTH_REQUIRED' } } });
    expect(await call('GET', '/-/api/me', 'larder_garbage')).toMatchObject({ status: 401, body: { error: { code: 'TOKEN_INVALID' } } });
  });
});

describe('tokens', () => {
  it('creates a narrower token for oneself, shows the secret once, and the secret works', async () => {
    const { status, body } = await call('POST', '/-/api/tokens', aliceToken, {
      name: 'ci',
      scopes: ['publish'],
      repo: 'cargo',
      package: 'alice-core',
      expires_in: '1d',
    });
    expect(status).toBe(201);
    expect(body.secret).toMatch(/^larder_/);
    expect(body.token).toMatchObject({ user: 'alice', name: 'ci', scopes: ['publish'], package: 'alice-core', state: 'active' });
    expect((await call('GET', '/-/api/me', body.secret)).body.token.id).toBe(body.token.id);
    const listed = await call('GET', '/-/api/tokens', aliceToken);
    expect(listed.body.tokens.map((x: { id: number }) => x.id)).toContain(body.token.id);
    expect(JSON.stringify(listed.body)).not.toContain(body.secret);
    expect(listed.body.tokens.every((x: { user: string }) => x.user === 'alice')).toBe(true);
  });

  it('inherits the expiry of an expiring token when none is asked for', async () => {
    const { status, body } = await call('POST', '/-/api/tokens', aliceToken, { scopes: 'read', repo: 'cargo', package: 'alice-*' });
    expect(status).toBe(201);
    expect(body.token.expires_at).not.toBeNull();
  });

  it.each([
    ['a scope it lacks', { scopes: ['owners'], repo: 'cargo', package: 'alice-*', expires_in: '1d' }, /owners/],
    ['admin', { scopes: ['admin'], repo: 'cargo', package: 'alice-*', expires_in: '1d' }, /admin/],
    ['every repository', { scopes: ['publish'], package: 'alice-*', expires_in: '1d' }, /repositories within "cargo"/],
    ['a wider package pattern', { scopes: ['publish'], repo: 'cargo', package: 'a*', expires_in: '1d' }, /packages within "alice-\*"/],
    ['another package', { scopes: ['publish'], repo: 'cargo', package: 'bob-x', expires_in: '1d' }, /packages within/],
    ['a later expiry', { scopes: ['publish'], repo: 'cargo', package: 'alice-*', expires_in: '30d' }, /must expire by/],
  ])('refuses a token with %s (403 TOKEN_TOO_WIDE), creating nothing', async (_what, payload, message) => {
    const before = await tokenCount();
    const { status, body } = await call('POST', '/-/api/tokens', aliceToken, payload);
    expect(status).toBe(403);
    expect(body.error.code).toBe('TOKEN_TOO_WIDE');
    expect(body.error.message).toMatch(message);
    expect(await tokenCount()).toBe(before);
  });

  it('refuses a token for another user unless admin, creating nothing', async () => {
    const before = await tokenCount();
    const { status, body } = await call('POST', '/-/api/tokens', aliceToken, {
      user: 'bob',
      scopes: ['read'],
      repo: 'cargo',
      package: 'alice-*',
      expires_in: '1d',
    });
    expect(status).toBe(403);
    expect(body.error.code).toBe('SCOPE_MISSING');
    expect(await tokenCount()).toBe(before);
  });

  it('refuses malformed bodies with 400, creating nothing', async () => {
    const before = await tokenCount();
    for (const payload of [
      { scopes: ['root'] },
      { scopes: [] },
      { scopes: 'read', expires_in: 'soon' },
      { scopes: 'read', colour: 'red' },
      { name: 5, scopes: 'read' },
    ]) {
      const { status, body } = await call('POST', '/-/api/tokens', t.adminToken, payload);
      expect(status, JSON.stringify(payload)).toBe(400);
      expect(['BODY_MALFORMED', 'METADATA_INVALID']).toContain(body.error.code);
    }
    expect(await tokenCount()).toBe(before);
  });

  it("lets an admin create any token for anyone and list everyone's", async () => {
    const { status, body } = await call('POST', '/-/api/tokens', t.adminToken, { user: 'bob', scopes: ['publish', 'owners'] });
    expect(status).toBe(201);
    expect(body.token).toMatchObject({ user: 'bob', scopes: ['publish', 'owners'], repo: null, expires_at: null });
    const all = await call('GET', '/-/api/tokens', t.adminToken);
    expect(new Set(all.body.tokens.map((x: { user: string }) => x.user))).toEqual(new Set(['admin', 'alice', 'bob']));
    const bobs = await call('GET', '/-/api/tokens?user=bob', t.adminToken);
    expect(bobs.body.tokens.every((x: { user: string }) => x.user === 'bob')).toBe(true);
  });

  it('keeps an admin token limited to a repository from minting an unlimited one', async () => {
    const limitedAdmin = (await t.registry.auth.createToken({ login: 'admin', scopes: ['admin'], repoPattern: 'cargo' })).token;
    const before = await tokenCount();
    const refused = await call('POST', '/-/api/tokens', limitedAdmin, { user: 'bob', scopes: ['admin'] });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'TOKEN_TOO_WIDE' } } });
    expect(await tokenCount()).toBe(before);
    expect((await call('POST', '/-/api/tokens', limitedAdmin, { user: 'bob', scopes: ['publish'], repo: 'cargo' })).status).toBe(201);
  });

  it("refuses a non-admin listing another user's tokens", async () => {
    expect(await call('GET', '/-/api/tokens?user=bob', aliceToken)).toMatchObject({
      status: 403,
      body: { error: { code: 'SCOPE_MISSING' } },
    });
  });

  it("revokes: own narrower token yes; a wider own token, another user's token, an unknown id no", async () => {
    const narrow = (
      await call('POST', '/-/api/tokens', aliceToken, { scopes: ['publish'], repo: 'cargo', package: 'alice-x', expires_in: '1d' })
    ).body;
    const wide = (await t.registry.auth.createToken({ login: 'alice', scopes: ['publish', 'owners'] })).row;
    const bobs = (await t.registry.auth.createToken({ login: 'bob', scopes: ['read'] })).row;
    const before = await activeCount();
    expect(await call('DELETE', `/-/api/tokens/${wide.id}`, aliceToken)).toMatchObject({
      status: 403,
      body: { error: { code: 'TOKEN_TOO_WIDE' } },
    });
    expect(await call('DELETE', `/-/api/tokens/${bobs.id}`, aliceToken)).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    expect(await call('DELETE', '/-/api/tokens/999999', aliceToken)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await call('DELETE', '/-/api/tokens/abc', aliceToken)).toMatchObject({ status: 404 });
    expect(await activeCount()).toBe(before);

    const ok = await call('DELETE', `/-/api/tokens/${narrow.token.id}`, aliceToken);
    expect(ok).toMatchObject({ status: 200, body: { token: { id: narrow.token.id, state: 'revoked' } } });
    expect(await call('GET', '/-/api/me', narrow.secret)).toMatchObject({ status: 401, body: { error: { code: 'TOKEN_REVOKED' } } });
    expect(await call('DELETE', `/-/api/tokens/${bobs.id}`, t.adminToken)).toMatchObject({
      status: 200,
      body: { token: { state: 'revoked' } },
    });
    expect(await activeCount()).toBe(before - 2);
  });

  it('lets a token revoke itself', async () => {
    const self = (await t.registry.auth.createToken({ login: 'bob', scopes: ['read'] })).token;
    const id = (await call('GET', '/-/api/me', self)).body.token.id;
    expect((await call('DELETE', `/-/api/tokens/${id}`, self)).status).toBe(200);
    expect((await call('GET', '/-/api/me', self)).status).toBe(401);
  });
});

describe('users', () => {
  it('an admin lists and adds users', async () => {
    const added = await call('POST', '/-/api/users', t.adminToken, { login: 'carol', name: 'Carol', admin: false });
    expect(added).toMatchObject({ status: 201, body: { user: { login: 'carol', name: 'Carol', admin: false } } });
    const { status, body } = await call('GET', '/-/api/users', t.adminToken);
    expect(status).toBe(200);
    expect(body.users.map((u: { login: string }) => u.login)).toEqual(['admin', 'alice', 'bob', 'carol']);
  });

  it('refuses everyone else, a duplicate and a bad name, adding nothing', async () => {
    const before = await userCount();
    expect(await call('GET', '/-/api/users', aliceToken)).toMatchObject({ status: 403, body: { error: { code: 'SCOPE_MISSING' } } });
    expect(await call('POST', '/-/api/users', aliceToken, { login: 'mallory' })).toMatchObject({
      status: 403,
      body: { error: { code: 'SCOPE_MISSING' } },
    });
    expect(await call('POST', '/-/api/users', null, { login: 'mallory' })).toMatchObject({
      status: 401,
      body: { error: { code: 'AUTH_REQUIRED' } },
    });
    expect(await call('POST', '/-/api/users', t.adminToken, { login: 'alice' })).toMatchObject({
      status: 409,
      body: { error: { code: 'USER_EXISTS' } },
    });
    expect(await call('POST', '/-/api/users', t.adminToken, { login: '../x' })).toMatchObject({
      status: 400,
      body: { error: { code: 'NAME_INVALID' } },
    });
    expect(await call('POST', '/-/api/users', t.adminToken, { name: 'no login' })).toMatchObject({
      status: 400,
      body: { error: { code: 'BODY_MALFORMED' } },
    });
    expect(await userCount()).toBe(before);
  });
});

describe('patternWithin', () => {
  it.each([
    ['alice-core', 'alice-*', true],
    ['alice-*', 'alice-*', true],
    ['alice-c*', 'alice-*', true],
    ['a,b', 'a,b,c', true],
    ['a*', 'a?', false],
    ['a?', 'a*', true],
    ['alice-*', 'alice-core', false],
    ['a,z', 'a,b', false],
    [null, 'a', false],
    [null, null, true],
    ['x', null, true],
  ] as const)('%s within %s: %s', (inner, outer, want) => {
    expect(patternWithin(inner, outer)).toBe(want);
  });
});
