/**
 * "My packages" over inject: the packages the viewer owns (not other users'), linked to their pages, and only in
 * the repositories (and packages) the session's token may read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { getPage, signIn } from '../../../test/support/web.js';

let t: TestApp;
let aliceAll: string;

async function publish(repo: string, name: string, token: string) {
  const { body } = await simplePublishBody(name, '1.2.0');
  const res = await t.app.inject({ method: 'PUT', url: `/${repo}/api/v1/crates/new`, headers: { authorization: token }, payload: body });
  expect(res.statusCode, res.body).toBe(200);
}

beforeAll(async () => {
  t = await openTestApp({
    repos: [
      { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' },
    ],
  });
  await t.registry.auth.createUser('alice');
  await t.registry.auth.createUser('bob');
  aliceAll = (await t.registry.auth.createToken({ login: 'alice', scopes: ['publish'] })).token;
  const bob = (await t.registry.auth.createToken({ login: 'bob', scopes: ['publish'] })).token;
  await publish('crates', 'alice_pub', aliceAll);
  await publish('secret', 'alice_priv', aliceAll);
  await publish('crates', 'bob_pub', bob);
});
afterAll(() => t.stop());

describe('my packages', () => {
  it('sends anonymous viewers to sign in', async () => {
    const res = await getPage(t.app, null, '/-/account/packages');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/-/sign-in?next=%2F-%2Faccount%2Fpackages');
  });

  it('lists what the viewer owns, with the latest version, linked to the package pages; never what others own', async () => {
    const res = await getPage(t.app, await signIn(t.app, aliceAll), '/-/account/packages');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<th scope="row"><a href="/-/packages/crates/alice_pub">alice_pub</a></th><td>1.2.0</td>');
    expect(res.body).toContain('<a href="/-/packages/secret/alice_priv">alice_priv</a>');
    expect(res.body).toContain('<span class="badge format">Cargo</span>');
    expect(res.body).not.toContain('bob_pub');
  });

  it('leaves out private repositories and packages the session token may not read', async () => {
    const limited = (await t.registry.auth.createToken({ login: 'alice', scopes: ['read'], repoPattern: 'crates' })).token;
    const res = await getPage(t.app, await signIn(t.app, limited), '/-/account/packages');
    expect(res.body).toContain('alice_pub');
    expect(res.body).not.toContain('alice_priv');
    expect(res.body).not.toContain('/-/packages/secret/');

    const otherPackages = (await t.registry.auth.createToken({ login: 'alice', scopes: ['read'], packagePattern: 'zzz*' })).token;
    const narrow = await getPage(t.app, await signIn(t.app, otherPackages), '/-/account/packages');
    // A public repo stays readable whatever the package limit; the private one only for packages the token names.
    expect(narrow.body).toContain('alice_pub');
    expect(narrow.body).not.toContain('alice_priv');
  });

  it('says so when the viewer owns nothing', async () => {
    const carol = (await t.registry.auth.createUser('carol')) && (await t.registry.auth.createToken({ login: 'carol', scopes: ['read'] }));
    const res = await getPage(t.app, await signIn(t.app, carol.token), '/-/account/packages');
    expect(res.body).toContain('You own no packages yet');
    expect(res.body).not.toContain('<table');
  });
});
