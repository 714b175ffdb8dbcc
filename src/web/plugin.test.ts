/**
 * The web UI's shell over inject: the start page, assets, search, sign-in and sign-out with CSRF, and private
 * repos invisible to whoever may not read them. Browser behaviour is in test/web-*.test.ts (Chromium).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { simplePublishBody } from '../../test/support/cargo.js';
import { signIn } from '../../test/support/web.js';

let t: TestApp;

beforeAll(async () => {
  t = await openTestApp({
    repos: [
      { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' },
    ],
  });
  for (const [repo, name] of [
    ['crates', 'serde_lite'],
    ['secret', 'hidden_crate'],
  ]) {
    const { body } = await simplePublishBody(name, '1.0.0', { description: `the ${name} crate` });
    const res = await t.app.inject({
      method: 'PUT',
      url: `/${repo}/api/v1/crates/new`,
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
  }
});
afterAll(() => t.stop());

describe('start page', () => {
  it('lists the readable repositories and recent packages, with the security headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.body.startsWith('<!doctype html><html lang="en">')).toBe(true);
    expect(res.body).toContain('href="/-/repos/crates"');
    expect(res.body).toContain('serde_lite');
    expect(res.body).not.toContain('secret');
    expect(res.body).not.toContain('hidden_crate');
  });

  it('serves fingerprinted assets as immutable, and 404 for an unknown one', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/' });
    const css = /href="(\/-\/static\/style\.[0-9a-f]{12}\.css)"/.exec(page.body)?.[1];
    expect(css).toBeDefined();
    const res = await t.app.inject({ method: 'GET', url: css! });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await t.app.inject({ method: 'GET', url: '/-/static/style.000000000000.css' })).statusCode).toBe(404);
  });
});

describe('search', () => {
  it('finds a public package and never a private one for an anonymous viewer', async () => {
    const hit = await t.app.inject({ method: 'GET', url: '/-/search?q=serde_lite' });
    expect(hit.statusCode).toBe(200);
    expect(hit.body).toContain('href="/-/packages/crates/serde_lite"');
    const hidden = await t.app.inject({ method: 'GET', url: '/-/search?q=hidden_crate' });
    expect(hidden.body).toContain('No packages match.');
    expect(hidden.body).not.toContain('/-/packages/secret/');
  });

  it('answers a fragment for search-as-you-type', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/-/search?q=serde&fragment=1' });
    expect(res.statusCode).toBe(200);
    expect(res.body.startsWith('<p class="muted" role="status">')).toBe(true);
    expect(res.body).not.toContain('<html');
  });

  it.each(['"', 'a AND OR NOT', 'name:*', "'); drop table repos; --", 'x'.repeat(100_000), '%FF%FE', '\u0000(', 'NEAR(a b)'])(
    'never errors on the query %#',
    async (q) => {
      const res = await t.app.inject({ method: 'GET', url: `/-/search?q=${q.startsWith('%') ? q : encodeURIComponent(q)}` });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<h1>Search</h1>');
    },
  );
});

describe('sign in and out', () => {
  it('exchanges a token for an HttpOnly, SameSite=Strict session cookie; the viewer then sees private repos', async () => {
    const session = await signIn(t.app, t.adminToken);
    expect(session.setCookie).toMatch(/^larder_session=[\w-]{43}; Path=\/; Expires=.*; HttpOnly; Secure; SameSite=Strict$/);
    const res = await t.app.inject({ method: 'GET', url: '/', headers: { cookie: session.cookie } });
    expect(res.body).toContain('Sign out admin');
    expect(res.body).toContain('href="/-/repos/secret"');
    const search = await t.app.inject({ method: 'GET', url: '/-/search?q=hidden_crate', headers: { cookie: session.cookie } });
    expect(search.body).toContain('href="/-/packages/secret/hidden_crate"');
  });

  it('refuses a sign-in without its CSRF cookie, and a wrong token with the reason', async () => {
    const noCookie = await t.app.inject({
      method: 'POST',
      url: '/-/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: t.adminToken, _csrf: 'x' }).toString(),
    });
    expect(noCookie.statusCode).toBe(403);
    expect(noCookie.headers['set-cookie']).toBeUndefined();
    expect(noCookie.body).toContain('reload the page');
    const wrong = await signIn(t.app, 'larder_not-a-token').catch((err: Error) => err.message);
    expect(wrong).toContain('401');
    expect(wrong).toContain('the token is not valid');
  });

  it('signs out only with the session CSRF token', async () => {
    const session = await signIn(t.app, t.adminToken);
    const forged = await t.app.inject({
      method: 'POST',
      url: '/-/sign-out',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '_csrf=forged',
    });
    expect(forged.statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/', headers: { cookie: session.cookie } })).body).toContain('Sign out admin');
    const out = await t.app.inject({
      method: 'POST',
      url: '/-/sign-out',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: session.csrf }).toString(),
    });
    expect(out.statusCode).toBe(303);
    expect(String(out.headers['set-cookie'])).toContain('larder_session=; Max-Age=0');
    const after = await t.app.inject({ method: 'GET', url: '/', headers: { cookie: session.cookie } });
    expect(after.body).toContain('href="/-/sign-in"');
    expect(after.body).not.toContain('secret');
  });

  it('ends the session when its token is revoked', async () => {
    const { token } = await t.registry.auth.createToken({ login: 'admin', scopes: ['read'] });
    const session = await signIn(t.app, token);
    expect((await t.app.inject({ method: 'GET', url: '/', headers: { cookie: session.cookie } })).body).toContain('href="/-/repos/secret"');
    await t.registry.auth.revokeToken(token.slice(0, 13));
    const res = await t.app.inject({ method: 'GET', url: '/', headers: { cookie: session.cookie } });
    expect(res.body).not.toContain('secret');
    expect(String(res.headers['set-cookie'])).toContain('larder_session=; Max-Age=0');
  });
});
