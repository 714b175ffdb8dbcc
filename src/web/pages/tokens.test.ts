/**
 * The token page over inject: the list (own tokens; an admin's view of everyone's), creating a token (the secret
 * once, and it works), the API's rules (never wider than the session's token), revoking with a confirmation and
 * CSRF, and revoking the session's own token signing the viewer out. Every refusal leaves the token rows as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { getPage, postForm, signIn, type WebSession } from '../../../test/support/web.js';

let t: TestApp;
let alice: WebSession;
let aliceToken: string;
let admin: WebSession;

const DAY = 86_400_000;

beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' }] });
  await t.registry.auth.createUser('alice');
  await t.registry.auth.createUser('bob');
  aliceToken = (
    await t.registry.auth.createToken({
      login: 'alice',
      name: 'alice-laptop',
      scopes: ['publish'],
      repoPattern: 'crates',
      expiresInMs: 30 * DAY,
    })
  ).token;
  alice = await signIn(t.app, aliceToken);
  admin = await signIn(t.app, t.adminToken);
});
afterAll(() => t.stop());

/** Every token row, without the last-use time (reading a page may touch it). */
async function tokenRows() {
  const rows = await t.registry.db.selectFrom('tokens').selectAll().orderBy('id').execute();
  return rows.map(({ last_used_at: _, ...rest }) => rest);
}

const createFields = (over: Record<string, string | string[]> = {}): Array<[string, string]> => {
  const fields: Record<string, string | string[]> = {
    name: 'ci',
    scope: ['read', 'publish'],
    repo: 'crates',
    package: 'alice-*',
    expires: 'same',
    ...over,
  };
  return Object.entries(fields).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, x]));
};

const SECRET = /<code id="new-token">(larder_[\w-]+)<\/code>/;

describe('the token list', () => {
  it('sends anonymous viewers to sign in, and back here after', async () => {
    const res = await getPage(t.app, null, '/-/account/tokens');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/-/sign-in?next=%2F-%2Faccount%2Ftokens');
  });

  it("shows a user their own tokens with their reach, and nobody else's", async () => {
    const res = await getPage(t.app, alice, '/-/account/tokens');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toContain('<h2 id="list-h">Your tokens</h2>');
    expect(res.body).toContain('<th scope="row">alice-laptop</th>');
    expect(res.body).toContain(`<code>${aliceToken.slice(0, 13)}…</code>`);
    expect(res.body).toContain('<span class="badge">this session</span>');
    expect(res.body).toContain('<td>publish</td><td><code>crates</code></td><td><span class="muted">all</span></td>');
    expect(res.body).not.toContain(t.adminToken.slice(0, 13));
    expect(res.body).not.toContain('LARDER_ADMIN_TOKEN');
    expect(res.body).not.toContain('name="user"');
    // The form: labelled inputs, scope checkboxes in a fieldset, the expiry choices.
    expect(res.body).toContain('<legend>Scopes</legend>');
    expect(res.body).toContain('<input type="checkbox" name="scope" value="admin"/>');
    // Her token expires, so a new one expires with it unless she picks an earlier time.
    expect(res.body).toContain('<input type="radio" name="expires" value="same" checked/>');
    expect(res.body).toContain('<input type="radio" name="expires" value="90"/>');
    expect(res.body).toContain('<input type="date" name="expires_on" value/>');
  });

  it("refuses a non-admin another user's list (403), and shows an admin everyone's or one user's", async () => {
    const other = await getPage(t.app, alice, '/-/account/tokens?user=admin');
    expect(other.statusCode).toBe(403);
    expect(other.body).toContain('needs a token with the &quot;admin&quot; scope');
    expect(other.body).not.toContain('LARDER_ADMIN_TOKEN');

    const all = await getPage(t.app, admin, '/-/account/tokens');
    expect(all.body).toContain('<h2 id="list-h">Every token</h2>');
    expect(all.body).toContain('<th scope="row">alice-laptop</th>');
    expect(all.body).toContain('<th scope="row">LARDER_ADMIN_TOKEN</th>');
    const one = await getPage(t.app, admin, '/-/account/tokens?user=alice');
    expect(one.body).toContain('<h2 id="list-h">Tokens of alice</h2>');
    expect(one.body).toContain('<th scope="row">alice-laptop</th>');
    expect(one.body).not.toContain('<th scope="row">LARDER_ADMIN_TOKEN</th>');
  });
});

describe('creating a token', () => {
  it('shows the secret once, on the answer to the post; the secret works and is never shown again', async () => {
    const before = (await tokenRows()).length;
    const res = await postForm(t.app, alice, '/-/account/tokens', createFields());
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toContain('cannot show it again');
    expect(res.body).toContain('data-copy="new-token"');
    const secret = SECRET.exec(res.body)![1]!;
    expect(await tokenRows()).toHaveLength(before + 1);

    const me = await t.app.inject({ method: 'GET', url: '/-/api/me', headers: { authorization: `Bearer ${secret}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({
      user: { login: 'alice' },
      token: { name: 'ci', scopes: ['read', 'publish'], repo: 'crates', package: 'alice-*', state: 'active' },
    });
    // With alice's own token.
    const own = (await t.registry.auth.listTokens('alice')).find((r) => r.name === 'alice-laptop')!;
    expect(me.json().token.expires_at).toBe(new Date(own.expires_at!).toISOString());

    const list = await getPage(t.app, alice, '/-/account/tokens');
    expect(list.body).toContain(`<code>${secret.slice(0, 13)}…</code>`);
    expect(list.body).not.toContain(secret);
  });

  it('refuses a scope wider than the session token with the reason, shows the form as typed, and creates nothing', async () => {
    const before = await tokenRows();
    const res = await postForm(t.app, alice, '/-/account/tokens', createFields({ name: 'too-much', scope: ['publish', 'admin'] }));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('role="alert">the new token may not have the scope(s) admin: this token has only publish');
    expect(res.body).toContain('name="name" value="too-much"');
    expect(res.body).toContain('<input type="checkbox" name="scope" value="admin" checked/>');
    expect(res.body).not.toMatch(SECRET);
    expect(await tokenRows()).toEqual(before);
  });

  it('refuses wider patterns and a later expiry than the session token, and bad fields, creating nothing', async () => {
    const before = await tokenRows();
    for (const [over, status, reason] of [
      [{ repo: '' }, 403, 'must be limited to repositories within &quot;crates&quot;'],
      [{ expires: 'never' }, 403, 'must expire by'],
      [{ expires: '30' }, 403, 'must expire by'],
      [{ expires: '365' }, 403, 'must expire by'],
      [{ scope: [] }, 400, 'a token needs at least one scope'],
      [{ scope: ['root'] }, 400, 'unknown scope &quot;root&quot;'],
      [{ expires: 'date', expires_on: '2001-02-03' }, 400, 'is not in the future'],
      [{ expires: 'date', expires_on: 'soon' }, 400, 'YYYY-MM-DD'],
      [{ user: 'bob' }, 403, 'creating a token for another user needs a token with the &quot;admin&quot; scope'],
    ] as const) {
      const res = await postForm(t.app, alice, '/-/account/tokens', createFields(over as Record<string, string | string[]>));
      expect(res.statusCode, JSON.stringify(over)).toBe(status);
      expect(res.body, JSON.stringify(over)).toContain(reason);
    }
    expect(await tokenRows()).toEqual(before);
  });

  it('lets an admin create a token for another user, expiring on a chosen date', async () => {
    const date = new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10);
    const res = await postForm(
      t.app,
      admin,
      '/-/account/tokens',
      createFields({ name: 'bob-ci', user: 'bob', scope: 'read', repo: '', package: '', expires: 'date', expires_on: date }),
    );
    expect(res.statusCode).toBe(201);
    const me = await t.app.inject({
      method: 'GET',
      url: '/-/api/me',
      headers: { authorization: `Bearer ${SECRET.exec(res.body)![1]}` },
    });
    expect(me.json()).toMatchObject({ user: { login: 'bob' }, token: { name: 'bob-ci', expires_at: `${date}T00:00:00.000Z` } });
  });

  it('refuses a post without or with a wrong CSRF token, creating nothing', async () => {
    const before = await tokenRows();
    for (const csrf of [null, 'forged', '']) {
      const res = await postForm(t.app, alice, '/-/account/tokens', createFields(), csrf);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('reload the page');
      expect(res.body).not.toMatch(SECRET);
    }
    expect(await tokenRows()).toEqual(before);
  });
});

describe('revoking a token', () => {
  const narrow = async (login = 'alice') =>
    (await t.registry.auth.createToken({ login, name: `spare-${login}`, scopes: ['publish'], repoPattern: 'crates', expiresInMs: DAY })).row
      .id;

  it('asks to confirm, refuses without or with a wrong CSRF token, then revokes', async () => {
    const id = await narrow();
    const confirm = await getPage(t.app, alice, `/-/account/tokens/${id}/revoke`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`<form method="post" action="/-/account/tokens/${id}/revoke">`);
    expect(confirm.body).toContain('Revoke spare-alice</button>');
    expect(confirm.body).not.toContain('signs you out');

    const before = await tokenRows();
    for (const csrf of [null, 'forged']) {
      const res = await postForm(t.app, alice, `/-/account/tokens/${id}/revoke`, [], csrf);
      expect(res.statusCode).toBe(403);
      expect(await tokenRows()).toEqual(before);
    }
    const res = await postForm(t.app, alice, `/-/account/tokens/${id}/revoke`, []);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/-/account/tokens?revoked=${id}`);
    expect((await t.registry.auth.findToken(id))!.revoked_at).not.toBeNull();
    const list = await getPage(t.app, alice, res.headers.location as string);
    expect(list.body).toContain('Token spare-alice');
    expect(list.body).toContain('is revoked: it no longer works anywhere.');
    expect((await getPage(t.app, alice, `/-/account/tokens/${id}/revoke`)).body).toContain('This token is revoked already');
  });

  it("answers another user's token as not found to a non-admin, and refuses a wider own token; nothing changes", async () => {
    const bobs = await narrow('bob');
    const wide = (await t.registry.auth.createToken({ login: 'alice', name: 'wide', scopes: ['publish', 'yank'] })).row.id;
    const before = await tokenRows();
    expect((await getPage(t.app, alice, `/-/account/tokens/${bobs}/revoke`)).statusCode).toBe(404);
    const other = await postForm(t.app, alice, `/-/account/tokens/${bobs}/revoke`, []);
    expect(other.statusCode).toBe(404);
    expect(other.body).toContain(`no token ${bobs} among yours`);
    const wider = await postForm(t.app, alice, `/-/account/tokens/${wide}/revoke`, []);
    expect(wider.statusCode).toBe(403);
    expect(wider.body).toContain('may not have the scope(s) yank');
    expect((await postForm(t.app, alice, '/-/account/tokens/abc/revoke', [])).statusCode).toBe(404);
    expect(await tokenRows()).toEqual(before);
  });

  it("lets an admin revoke anyone's token", async () => {
    const id = await narrow('bob');
    const res = await postForm(t.app, admin, `/-/account/tokens/${id}/revoke`, []);
    expect(res.statusCode).toBe(303);
    expect((await t.registry.auth.findToken(id))!.revoked_at).not.toBeNull();
  });

  it('signs the viewer out when the revoked token is the one the session runs on, and says so', async () => {
    const own = await t.registry.auth.createToken({ login: 'alice', name: 'short-lived', scopes: ['read'] });
    const session = await signIn(t.app, own.token);
    expect((await getPage(t.app, session, `/-/account/tokens/${own.row.id}/revoke`)).body).toContain(
      'This is the token you signed in with: revoking it signs you out.',
    );
    const res = await postForm(t.app, session, `/-/account/tokens/${own.row.id}/revoke`, []);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('It was the token this session was signed in with, so you are signed out.');
    expect(String(res.headers['set-cookie'])).toContain('larder_session=; Max-Age=0');
    expect(res.body).toContain('href="/-/sign-in"');
    expect((await getPage(t.app, session, '/-/account/tokens')).statusCode).toBe(303);
  });
});
