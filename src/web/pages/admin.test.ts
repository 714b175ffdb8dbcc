/**
 * The admin pages over inject (users, repositories with proxy statistics, the audit log) and the proxy facts on the
 * start page: what an admin sees, a 403 with nothing of the page for everyone else, refusals that change nothing, and
 * private repositories left out for whoever may not read them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../registry/audit.js';
import { simplePublishBody } from '../../../test/support/cargo.js';
import { fakeCratesIo, sparsePath } from '../../../test/support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { getPage, postForm, signIn, type WebSession } from '../../../test/support/web.js';

let t: TestApp;
let up: FakeUpstream;
let admin: WebSession;
let alice: WebSession;
let leafCrate: Buffer;

async function publish(repo: string, name: string, token: string) {
  const { body } = await simplePublishBody(name, '1.0.0');
  const res = await t.app.inject({ method: 'PUT', url: `/${repo}/api/v1/crates/new`, headers: { authorization: token }, payload: body });
  expect(res.statusCode, res.body).toBe(200);
}

const get = (url: string) => t.app.inject({ method: 'GET', url });

beforeAll(async () => {
  up = await startFakeUpstream();
  leafCrate = (await fakeCratesIo(up).add({ name: 'leaf', vers: '1.0.0' })).crate;
  t = await openTestApp({
    repos: [
      { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' },
      { name: 'cio', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/` },
      { name: 'hidden-cio', format: 'cargo', kind: 'proxy', visibility: 'private', upstream: `sparse+${up.url}/` },
    ],
    outbound: { retries: 0 },
  });
  await t.registry.auth.createUser('alice');
  const aliceToken = (await t.registry.auth.createToken({ login: 'alice', scopes: ['publish'] })).token;
  await publish('crates', 'alice_pub', aliceToken);
  await publish('secret', 'hidden_crate', t.adminToken);
  for (const url of ['/cio/index/config.json', `/cio/index/${sparsePath('leaf')}`, '/cio/api/v1/crates/leaf/1.0.0/download']) {
    expect((await get(url)).statusCode, url).toBe(200);
  }
  admin = await signIn(t.app, t.adminToken);
  alice = await signIn(t.app, aliceToken);
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

const userCount = async () => (await t.registry.auth.listUsers()).length;

describe('admin pages for everyone else', () => {
  it.each(['/-/admin/users', '/-/admin/repos', '/-/admin/audit'])('%s: 403 for a non-admin, with nothing of the page', async (url) => {
    const res = await getPage(t.app, alice, url);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('needs a token with the &quot;admin&quot; scope');
    expect(res.body).not.toContain('<table');
    expect(res.body).not.toContain('aria-label="Administration"');
    for (const secret of ['hidden_crate', 'hidden-cio', 'alice_pub', 'cargo.publish']) expect(res.body).not.toContain(secret);
    const anonymous = await getPage(t.app, null, url);
    expect(anonymous.statusCode).toBe(303);
    expect(anonymous.headers.location).toBe(`/-/sign-in?next=${encodeURIComponent(url)}`);
  });

  it('shows no admin link to a non-admin, and one to an admin', async () => {
    expect((await getPage(t.app, alice, '/')).body).not.toContain('href="/-/admin/users"');
    expect((await getPage(t.app, admin, '/')).body).toContain('href="/-/admin/users"');
  });
});

describe('/-/admin/users', () => {
  it('lists every user with the admin flag and active tokens', async () => {
    const res = await getPage(t.app, admin, '/-/admin/users');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<th scope="row">admin</th><td>Administrator</td><td>admin</td>');
    expect(res.body).toContain('<th scope="row">alice</th><td><span class="muted">none</span></td><td>no</td>');
    expect(res.body).toContain('<a href="/-/account/tokens?user=alice">1</a>');
    expect(res.body).toContain('<label>Login<input type="text" name="login" value required maxlength="39" autocomplete="off"/></label>');
  });

  it('adds a user, and says so', async () => {
    const res = await postForm(t.app, admin, '/-/admin/users', [
      ['login', 'dave'],
      ['name', 'Dave D'],
      ['admin', '1'],
    ]);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/-/admin/users?added=dave');
    const page = await getPage(t.app, admin, res.headers.location as string);
    expect(page.body).toContain('Added dave.');
    expect(page.body).toContain('<th scope="row">dave</th><td>Dave D</td><td>admin</td>');
    expect((await getPage(t.app, admin, '/-/admin/users?added=nobody')).body).not.toContain('Added');
  });

  it('refuses a duplicate and a bad login with the reason, keeping what was typed; adds nothing', async () => {
    const before = await userCount();
    const dup = await postForm(t.app, admin, '/-/admin/users', [['login', 'alice']]);
    expect(dup.statusCode).toBe(409);
    expect(dup.body).toContain('user &quot;alice&quot; already exists');
    const bad = await postForm(t.app, admin, '/-/admin/users', [
      ['login', '-no spaces-'],
      ['name', 'Kept'],
    ]);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('invalid user name');
    expect(bad.body).toContain('name="name" value="Kept"');
    expect(await userCount()).toBe(before);
  });

  it('refuses a non-admin (with a valid CSRF token) and a post without or with a wrong CSRF token; adds nothing', async () => {
    const before = await userCount();
    const nonAdmin = await postForm(t.app, alice, '/-/admin/users', [['login', 'eve']]);
    expect(nonAdmin.statusCode).toBe(403);
    expect(nonAdmin.body).toContain('adding a user needs a token with the &quot;admin&quot; scope');
    for (const csrf of [null, 'forged']) {
      const res = await postForm(t.app, admin, '/-/admin/users', [['login', 'eve']], csrf);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('reload the page');
    }
    expect(await userCount()).toBe(before);
  });
});

describe('/-/admin/repos and the start page', () => {
  it('lists every repository with format, kind, visibility, packages and client URL; a proxy with its upstream statistics', async () => {
    const res = await getPage(t.app, admin, '/-/admin/repos');
    expect(res.statusCode).toBe(200);
    const row = (name: string) =>
      new RegExp(`<tr><th scope="row"><a href="/-/repos/${name}">${name}</a></th>(.*?)</tr>`).exec(res.body)?.[1];
    expect(row('crates')).toContain(
      '<td>hosted</td><td>public</td><td>1</td><td><code>sparse+https://larder.test/crates/index/</code></td>',
    );
    expect(row('crates')).toContain('<td><span class="muted">—</span></td>');
    expect(row('secret')).toContain('<td>hosted</td><td>private</td><td>1</td>');
    const cio = row('cio')!;
    expect(cio).toContain(`<td>${up.url}</td>`);
    expect(cio).toContain('<span class="badge ok">answering</span>');
    expect(cio).toContain(`${leafCrate.length} B in 1 artifact, 2 documents`);
    expect(cio).toContain('<td>0 of 2<span class="muted"> (lifetime 10 min)</span></td>');
    expect(row('hidden-cio')).toContain('<span class="badge">not asked yet</span>');
    expect(res.body).toContain('the outcome of its latest request to the upstream');
  });

  it('leaves out repositories an admin token limited to others may not read', async () => {
    const limited = (await t.registry.auth.createToken({ login: 'admin', scopes: ['admin'], repoPattern: 'crates,cio' })).token;
    const res = await getPage(t.app, await signIn(t.app, limited), '/-/admin/repos');
    expect(res.body).toContain('href="/-/repos/cio"');
    expect(res.body).not.toContain('secret');
    expect(res.body).not.toContain('hidden-cio');
  });

  it('shows proxies on the start page with their upstream, health, cache and stale documents; private ones only to readers', async () => {
    const res = await get('/');
    expect(res.body).toContain(`<dt>Upstream</dt><dd>${up.url}</dd>`);
    expect(res.body).toContain('<span class="badge ok">answering</span>');
    expect(res.body).toContain(`<dt>Cache</dt><dd>${leafCrate.length} B in 1 artifact, 2 documents</dd>`);
    expect(res.body).toContain('<dt>Stale</dt><dd>0 of 2');
    expect(res.body).toContain('the outcome of its latest request to the upstream');
    expect(res.body).not.toContain('hidden-cio');
    expect((await getPage(t.app, admin, '/')).body).toContain('href="/-/repos/hidden-cio"');
  });

  it('says a proxy is failing once its upstream fails, and shows the admin what clients were told', async () => {
    up.fault('*', { kind: 'status', status: 503 });
    try {
      expect((await get(`/cio/index/${sparsePath('nothing-held')}`)).statusCode).toBe(502);
    } finally {
      up.clearFaults();
    }
    const home = await get('/');
    expect(home.body).toContain('<span class="badge warn">failing</span>');
    expect(home.body).not.toMatch(/503/);
    const admins = await getPage(t.app, admin, '/-/admin/repos');
    expect(admins.body).toContain('<span class="badge warn">failing</span>');
    expect(admins.body).toMatch(/<p class="muted">[^<]*503[^<]*<\/p>/);
  });
});

describe('/-/admin/audit', () => {
  beforeAll(async () => {
    const repo = t.registry.repos.get('crates')!;
    for (let i = 0; i < 60; i++) await audit(t.registry.db, { userId: null, repoId: repo.id, action: 'test.bulk', subject: `bulk${i}` });
    await audit(t.registry.db, {
      userId: null,
      repoId: null,
      action: 'test.detail',
      subject: 'odd',
      detail: { note: '<b>not markup</b>' },
    });
  });

  const rowsOf = (body: string) => [...body.matchAll(/<tr><td><time/g)].length;

  it('lists entries newest first with actor, action, repository, subject and the detail as text', async () => {
    const res = await getPage(t.app, admin, '/-/admin/audit');
    expect(res.statusCode).toBe(200);
    expect(rowsOf(res.body)).toBe(50);
    expect(res.body.indexOf('<th scope="row">odd</th>')).toBeLessThan(res.body.indexOf('<th scope="row">bulk59</th>'));
    expect(res.body).toContain('<code>{&quot;note&quot;:&quot;&lt;b>not markup&lt;/b>&quot;}</code>');
    expect(res.body).not.toContain('<b>not markup</b>');
  });

  it('filters by actor, package (its name@version subjects too), action and repository, as links', async () => {
    const byActor = await getPage(t.app, admin, '/-/admin/audit?actor=alice');
    expect(rowsOf(byActor.body)).toBe(1);
    expect(byActor.body).toContain('<td>alice</td><td><code>cargo.publish</code></td><td>crates</td><th scope="row">alice_pub@1.0.0</th>');
    expect(byActor.body).toContain('name="actor" value="alice"');

    const byPackage = await getPage(t.app, admin, '/-/admin/audit?subject=hidden_crate');
    expect(rowsOf(byPackage.body)).toBe(1);
    expect(byPackage.body).toContain('<th scope="row">hidden_crate@1.0.0</th>');
    expect(rowsOf((await getPage(t.app, admin, '/-/admin/audit?subject=hidden')).body)).toBe(0);
    expect(rowsOf((await getPage(t.app, admin, '/-/admin/audit?subject=hidden%25')).body)).toBe(0);

    const byAction = await getPage(t.app, admin, '/-/admin/audit?action=cargo.publish');
    expect(rowsOf(byAction.body)).toBe(2);
    const byRepo = await getPage(t.app, admin, '/-/admin/audit?action=cargo.publish&repo=secret');
    expect(rowsOf(byRepo.body)).toBe(1);
    expect(byRepo.body).toContain('<option value="secret" selected>secret</option>');
    expect(rowsOf((await getPage(t.app, admin, '/-/admin/audit?repo=no-such-repo')).body)).toBe(0);
    expect((await getPage(t.app, admin, '/-/admin/audit?actor=nobody')).body).toContain('No entries match.');
  });

  it('pages with Older and Newest links that keep the filters', async () => {
    const first = await getPage(t.app, admin, '/-/admin/audit?action=test.bulk');
    expect(rowsOf(first.body)).toBe(50);
    expect(first.body).not.toContain('>Newest</a>');
    const older = /<a href="(\/-\/admin\/audit\?action=test\.bulk&amp;before=\d+)" rel="next">Older<\/a>/.exec(first.body)?.[1];
    expect(older).toBeDefined();
    const second = await getPage(t.app, admin, older!.replaceAll('&amp;', '&'));
    expect(rowsOf(second.body)).toBe(10);
    expect(second.body).toContain('<th scope="row">bulk0</th>');
    expect(second.body).not.toContain('<th scope="row">bulk10</th>');
    expect(second.body).toContain('<a href="/-/admin/audit?action=test.bulk">Newest</a>');
    expect(second.body).not.toContain('>Older</a>');
  });

  it('leaves out entries of repositories an admin token limited to others may not read', async () => {
    const limited = (await t.registry.auth.createToken({ login: 'admin', scopes: ['admin'], repoPattern: 'crates' })).token;
    const res = await getPage(t.app, await signIn(t.app, limited), '/-/admin/audit?action=cargo.publish');
    expect(rowsOf(res.body)).toBe(1);
    expect(res.body).not.toContain('hidden_crate');
    expect(res.body).not.toContain('value="secret"');
  });
});
