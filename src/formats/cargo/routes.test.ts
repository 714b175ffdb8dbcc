/**
 * The hosted Cargo registry over HTTP (app.inject, no sockets): config.json, index files,
 * downloads, yank/unyank, owners, search, /me and private repos. Publish rejections, token
 * checks and concurrency are in publish.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import {
  expectCargoError,
  makeCrate,
  newCrateJson,
  newDep,
  publishBody,
  sha256Hex,
  simplePublishBody,
  tokenFor,
} from '../../../test/support/cargo.js';
import { indexPath } from './names.js';

const BASE = 'https://larder.test';
const API = '/cargo/api/v1/crates';
const INDEX = '/cargo/index';
const CRATES_IO = 'https://github.com/rust-lang/crates.io-index';
const PUBTIME = /"pubtime":"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)"/;

/** Publishes through the route; fails the test unless it answers 200. */
async function publish(
  t: TestApp,
  token: string,
  name: string,
  vers: string,
  meta: Record<string, unknown> = {},
  repo = 'cargo',
): Promise<{ crate: Buffer; res: LightMyRequestResponse }> {
  const { body, crate } = await simplePublishBody(name, vers, meta);
  const res = await t.app.inject({ method: 'PUT', url: `/${repo}/api/v1/crates/new`, headers: { authorization: token }, payload: body });
  expect({ status: res.statusCode, body: res.body }).toEqual({ status: 200, body: expect.any(String) });
  return { crate, res };
}

function getIndex(t: TestApp, name: string, headers: Record<string, string> = {}, repo = 'cargo'): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url: `/${repo}/index/${indexPath(name)}`, headers });
}

function lines(body: string): string[] {
  expect(body.endsWith('\n')).toBe(true);
  return body.slice(0, -1).split('\n');
}

describe('config.json', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('has dl and api (no trailing slash), no auth-required, JSON, no-cache', async () => {
    const res = await t.app.inject({ method: 'GET', url: `${INDEX}/config.json` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(`{"dl":"${BASE}/cargo/api/v1/crates","api":"${BASE}/cargo"}`);
    expect(res.json().api.endsWith('/')).toBe(false);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('answers every time, even with If-None-Match', async () => {
    const res = await t.app.inject({ method: 'GET', url: `${INDEX}/config.json`, headers: { 'if-none-match': '*' } });
    expect(res.statusCode).toBe(200);
  });

  it('answers HEAD', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: `${INDEX}/config.json` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });

  it('has no trailing slash on api when the public URL has one and a path', async () => {
    const other = await openTestApp({ publicUrl: 'https://larder.test/base/' });
    try {
      const res = await other.app.inject({ method: 'GET', url: `${INDEX}/config.json` });
      expect(res.json()).toEqual({ dl: 'https://larder.test/base/cargo/api/v1/crates', api: 'https://larder.test/base/cargo' });
    } finally {
      await other.stop();
    }
  });

  it("answers unknown routes of the repo with a 404 in Cargo's error shape", async () => {
    expectCargoError(await t.app.inject({ method: 'POST', url: `${INDEX}/config.json` }), 404);
    expectCargoError(await t.app.inject({ method: 'GET', url: '/cargo/nothing-here' }), 404, /not found/);
    expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/hello_reg` }), 404);
  });
});

describe('index files', () => {
  let t: TestApp;
  let alice: string;
  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('serve the exact line after a publish: keys in order, \\n-terminated, strict pubtime', async () => {
    const before = Date.now();
    const { crate } = await publish(t, alice, 'hello_reg', '0.1.0');
    const after = Date.now();
    const res = await getIndex(t, 'hello_reg');
    expect(res.statusCode).toBe(200);
    const pubtime = PUBTIME.exec(res.body)![1];
    expect(Date.parse(pubtime)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(pubtime)).toBeLessThanOrEqual(after);
    expect(res.body).toBe(
      `{"name":"hello_reg","vers":"0.1.0","deps":[],"cksum":"${sha256Hex(crate)}","features":{},"yanked":false,"links":null,"rust_version":null,"pubtime":"${pubtime}"}\n`,
    );
    expect(res.rawPayload.equals(Buffer.from(res.body, 'utf8'))).toBe(true);
  });

  it('serve dependencies and features exactly as crates.io writes them', async () => {
    const meta = {
      deps: [
        newDep('hello_reg', '^0.1', { optional: true, default_features: false, features: ['extra'], explicit_name_in_toml: 'hr' }),
        newDep('hello_reg', '^0.1.0', { kind: 'dev', target: 'cfg(unix)' }),
        newDep('serde', '^1.0', { registry: CRATES_IO, features: ['derive'] }),
        newDep('hello_reg', '0.1', { kind: 'build', registry: `sparse+${BASE}/cargo/index/` }),
      ],
      features: { default: ['fancy'], fancy: ['dep:hr', 'hr?/greet'] },
      links: 'richnative',
      rust_version: '1.70',
    };
    const { crate } = await publish(t, alice, 'rich_crate', '1.2.3-beta.1', meta);
    const res = await getIndex(t, 'rich_crate');
    const pubtime = PUBTIME.exec(res.body)![1];
    expect(res.body).toBe(
      '{"name":"rich_crate","vers":"1.2.3-beta.1","deps":[' +
        '{"name":"hr","req":"^0.1","features":["extra"],"optional":true,"default_features":false,"target":null,"kind":"normal","registry":null,"package":"hello_reg"},' +
        '{"name":"hello_reg","req":"^0.1.0","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"dev","registry":null,"package":null},' +
        `{"name":"serde","req":"^1.0","features":["derive"],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"${CRATES_IO}","package":null},` +
        '{"name":"hello_reg","req":"0.1","features":[],"optional":false,"default_features":true,"target":null,"kind":"build","registry":null,"package":null}],' +
        `"cksum":"${sha256Hex(crate)}","features":{"default":["fancy"],"fancy":["dep:hr","hr?/greet"]},"yanked":false,"links":"richnative","rust_version":"1.70","pubtime":"${pubtime}"}\n`,
    );
  });

  it('have text/plain, no-cache, a strong stable ETag and Last-Modified', async () => {
    const a = await getIndex(t, 'hello_reg');
    const b = await getIndex(t, 'hello_reg');
    expect(a.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(a.headers['cache-control']).toBe('no-cache');
    const etag = a.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(etag.startsWith('W/')).toBe(false);
    expect(b.headers.etag).toBe(etag);
    expect(Number.isNaN(Date.parse(a.headers['last-modified'] as string))).toBe(false);
    expect(a.headers['content-encoding']).toBeUndefined();
  });

  it('answer If-None-Match with 304 for the exact tag, a list containing it, and *', async () => {
    const etag = (await getIndex(t, 'hello_reg')).headers.etag as string;
    // If-None-Match uses the weak comparison (RFC 9110 §13.1.2), so W/ of the tag matches too.
    for (const inm of [etag, `"nope", ${etag}`, `${etag},"other"`, '*', ` ${etag} `, `W/${etag}`]) {
      const res = await getIndex(t, 'hello_reg', { 'if-none-match': inm });
      expect({ inm, status: res.statusCode }).toEqual({ inm, status: 304 });
      expect(res.body).toBe('');
      expect(res.headers.etag).toBe(etag);
    }
    for (const inm of ['"nope"', etag.slice(0, -2) + '"', etag.slice(1, -1), '"a", "b"']) {
      const res = await getIndex(t, 'hello_reg', { 'if-none-match': inm });
      expect({ inm, status: res.statusCode }).toEqual({ inm, status: 200 });
    }
  });

  it('use If-Modified-Since only without If-None-Match', async () => {
    const lastModified = (await getIndex(t, 'hello_reg')).headers['last-modified'] as string;
    expect((await getIndex(t, 'hello_reg', { 'if-modified-since': lastModified })).statusCode).toBe(304);
    expect((await getIndex(t, 'hello_reg', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).statusCode).toBe(200);
    expect((await getIndex(t, 'hello_reg', { 'if-modified-since': lastModified, 'if-none-match': '"stale"' })).statusCode).toBe(200);
  });

  it('get a new ETag and the new line appended after a second publish', async () => {
    const first = await getIndex(t, 'hello_reg');
    await publish(t, alice, 'hello_reg', '0.2.0');
    const stale = await getIndex(t, 'hello_reg', { 'if-none-match': first.headers.etag as string });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers.etag).not.toBe(first.headers.etag);
    const [l1, l2] = lines(stale.body);
    expect(l1 + '\n').toBe(first.body);
    expect(JSON.parse(l2)).toMatchObject({ name: 'hello_reg', vers: '0.2.0', yanked: false });
    expect((await getIndex(t, 'hello_reg', { 'if-none-match': stale.headers.etag as string })).statusCode).toBe(304);
  });

  it('answer HEAD with the headers and no body', async () => {
    const get = await getIndex(t, 'hello_reg');
    const head = await t.app.inject({ method: 'HEAD', url: `${INDEX}/${indexPath('hello_reg')}` });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('live at the lower-cased path for names of length 1, 2, 3 and ≥ 4; the line keeps the case', async () => {
    for (const [name, path] of [
      ['a', '1/a'],
      ['Ab', '2/ab'],
      ['aBc', '3/a/abc'],
      ['MixedCase', 'mi/xe/mixedcase'],
    ]) {
      await publish(t, alice, name, '1.0.0');
      const res = await t.app.inject({ method: 'GET', url: `${INDEX}/${path}` });
      expect({ path, status: res.statusCode }).toEqual({ path, status: 200 });
      expect(JSON.parse(res.body)).toMatchObject({ name, vers: '1.0.0' });
    }
  });

  it('answer an unknown crate with 404 and an errors body', async () => {
    const res = await getIndex(t, 'no_such_crate');
    expectCargoError(res, 404, /no crate at index path no\/_s\/no_such_crate/);
    expect(res.headers.etag).toBeUndefined();
  });

  it('answer mixed-case and malformed paths with 404', async () => {
    for (const path of [
      'He/ll/hello_reg',
      'he/ll/Hello_reg',
      'Mi/xe/MixedCase',
      'mi/xe/MixedCase',
      '1/A',
      'he/hello_reg',
      'hello_reg',
      'xx/yy/hello_reg',
      '3/hello_reg',
      '1/ab',
      'he/ll/hello_reg/',
      'he/ll/hello_reg.json',
      'he/ll/hello_reg%00',
      'he/ll/',
    ]) {
      const res = await t.app.inject({ method: 'GET', url: `${INDEX}/${path}` });
      expect({ path, status: res.statusCode }).toEqual({ path, status: 404 });
      expectCargoError(res, 404);
    }
  });

  it('answer the foo_bar probe for a crate published as foo-bar with 404', async () => {
    await publish(t, alice, 'probe-me', '1.0.0');
    expect((await getIndex(t, 'probe-me')).statusCode).toBe(200);
    expectCargoError(await getIndex(t, 'probe_me'), 404);
    expect((await getIndex(t, 'probe-me')).statusCode).toBe(200);
  });

  it('answer a probe for an absent crate with 404 repeatedly (cached absence) and then serve it once published', async () => {
    expectCargoError(await getIndex(t, 'late-comer'), 404);
    expectCargoError(await getIndex(t, 'late-comer'), 404);
    await publish(t, alice, 'late-comer', '1.0.0');
    expect((await getIndex(t, 'late-comer')).statusCode).toBe(200);
  });
});

describe('publish and download', () => {
  let t: TestApp;
  let alice: string;
  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'], userName: 'Alice A' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('accepts a body without any Content-Type header (Cargo ≤ 1.95)', async () => {
    const { body } = await simplePublishBody('no_ctype', '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: `${API}/new`,
      headers: { authorization: alice, 'content-type': undefined },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe('{"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[]}}');
    expect((await getIndex(t, 'no_ctype')).statusCode).toBe(200);
  });

  it('accepts application/octet-stream (Cargo ≥ 1.96) and a Bearer token', async () => {
    const { body } = await simplePublishBody('octet', '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: `${API}/new`,
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ warnings: { invalid_categories: [], invalid_badges: [], other: [] } });
  });

  it('accepts a publish through a doubled slash (//api/v1) and makes the publisher the owner', async () => {
    const { body } = await simplePublishBody('double_slash', '1.0.0');
    const res = await t.app.inject({ method: 'PUT', url: '/cargo//api/v1/crates/new', headers: { authorization: alice }, payload: body });
    expect(res.statusCode).toBe(200);
    const owners = await t.app.inject({ method: 'GET', url: '/cargo//api/v1/crates/double_slash/owners' });
    expect(owners.json().users.map((u: { login: string }) => u.login)).toEqual(['alice']);
  });

  it('downloads the exact bytes as application/gzip, never with Content-Encoding', async () => {
    const { crate } = await publish(t, alice, 'dl_me', '1.0.0');
    const res = await t.app.inject({
      method: 'GET',
      url: `${API}/dl_me/1.0.0/download`,
      headers: { 'accept-encoding': 'deflate, gzip', accept: '*/*' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(crate)).toBe(true);
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(crate.length));
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const cksum = JSON.parse((await getIndex(t, 'dl_me')).body).cksum;
    expect(sha256Hex(res.rawPayload)).toBe(cksum);
    expect(res.headers.etag).toBe(`"${cksum}"`);
    const again = await t.app.inject({ method: 'GET', url: `${API}/dl_me/1.0.0/download`, headers: { 'if-none-match': `"${cksum}"` } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('downloads through a doubled slash and with the case-preserved name', async () => {
    const { crate } = await publish(t, alice, 'CaseKept', '0.1.0');
    for (const url of [`/cargo//api/v1/crates/CaseKept/0.1.0/download`, `${API}/CaseKept/0.1.0/download`]) {
      const res = await t.app.inject({ method: 'GET', url });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
      expect(res.rawPayload.equals(crate)).toBe(true);
    }
  });

  it('answers HEAD on a download', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: `${API}/dl_me/1.0.0/download` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.body).toBe('');
  });

  it('answers an unknown crate or version download with 404', async () => {
    expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/dl_me/9.9.9/download` }), 404, /has no version 9\.9\.9/);
    expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/nope/1.0.0/download` }), 404, /crate `nope`/);
    expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/dl_me/1.0.0/downloadz` }), 404);
  });

  it('keeps + literal in download and yank URLs of a version with build metadata', async () => {
    const { crate } = await publish(t, alice, 'buildmeta', '1.0.0+build.5');
    const line = JSON.parse((await getIndex(t, 'buildmeta')).body);
    expect(line.vers).toBe('1.0.0+build.5');
    for (const v of ['1.0.0+build.5', '1.0.0%2Bbuild.5', '1.0.0%2bbuild.5']) {
      const res = await t.app.inject({ method: 'GET', url: `${API}/buildmeta/${v}/download` });
      expect({ v, status: res.statusCode }).toEqual({ v, status: 200 });
      expect(res.rawPayload.equals(crate)).toBe(true);
    }
    // `+` decoded as a space, or the build metadata dropped, is a different version.
    for (const v of ['1.0.0%20build.5', '1.0.0', '1.0.0+build.6']) {
      expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/buildmeta/${v}/download` }), 404);
    }
    const yank = await t.app.inject({ method: 'DELETE', url: `${API}/buildmeta/1.0.0+build.5/yank`, headers: { authorization: alice } });
    expect(yank.body).toBe('{"ok":true}');
    expect(JSON.parse((await getIndex(t, 'buildmeta')).body).yanked).toBe(true);
    const unyank = await t.app.inject({ method: 'PUT', url: `${API}/buildmeta/1.0.0+build.5/unyank`, headers: { authorization: alice } });
    expect(unyank.body).toBe('{"ok":true}');
    expect(JSON.parse((await getIndex(t, 'buildmeta')).body).yanked).toBe(false);
  });

  it("stores a body just under 1 MiB+ (above Fastify's default body limit)", async () => {
    const big = Buffer.alloc(1536 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const crate = await makeCrate({ name: 'big_one', vers: '1.0.0', files: { 'data.bin': big } });
    const res = await t.app.inject({
      method: 'PUT',
      url: `${API}/new`,
      headers: { authorization: alice },
      payload: publishBody(newCrateJson({ name: 'big_one', vers: '1.0.0' }), crate),
    });
    expect(res.statusCode).toBe(200);
    const dl = await t.app.inject({ method: 'GET', url: `${API}/big_one/1.0.0/download` });
    expect(dl.rawPayload.equals(crate)).toBe(true);
  });
});

describe('yank and unyank', () => {
  let t: TestApp;
  let alice: string;
  let bob: string;
  let aliceNoYank: string;
  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
    aliceNoYank = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
    bob = await tokenFor(t.registry, 'bob', { scopes: ['publish', 'yank', 'owners'] });
    await publish(t, alice, 'yankee', '1.0.0');
    await publish(t, alice, 'yankee', '1.1.0');
  });
  afterAll(async () => {
    await t.stop();
  });

  const yank = (token: string | undefined, vers: string, crate = 'yankee') =>
    t.app.inject({ method: 'DELETE', url: `${API}/${crate}/${vers}/yank`, headers: token ? { authorization: token } : {} });
  const unyank = (token: string | undefined, vers: string, crate = 'yankee') =>
    t.app.inject({ method: 'PUT', url: `${API}/${crate}/${vers}/unyank`, headers: token ? { authorization: token } : {} });

  it('answer exactly {"ok":true} and flip only the yanked flag of that one line', async () => {
    const before = await getIndex(t, 'yankee');
    const [l1, l2] = lines(before.body);
    const res = await yank(alice, '1.0.0');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"ok":true}');
    expect(res.headers['content-type']).toMatch(/^application\/json/);

    const after = await getIndex(t, 'yankee');
    expect(after.headers.etag).not.toBe(before.headers.etag);
    const [y1, y2] = lines(after.body);
    expect(y1).toBe(l1.replace('"yanked":false', '"yanked":true'));
    expect(y2).toBe(l2);
    expect(PUBTIME.exec(y1)![1]).toBe(PUBTIME.exec(l1)![1]);
    // The crate stays downloadable.
    expect((await t.app.inject({ method: 'GET', url: `${API}/yankee/1.0.0/download` })).statusCode).toBe(200);
  });

  it('are idempotent, and unyank restores the original bytes', async () => {
    const yanked = await getIndex(t, 'yankee');
    const again = await yank(alice, '1.0.0');
    expect(again.body).toBe('{"ok":true}');
    const still = await getIndex(t, 'yankee');
    expect(still.body).toBe(yanked.body);
    expect(still.headers.etag).toBe(yanked.headers.etag);

    expect((await unyank(alice, '1.0.0')).body).toBe('{"ok":true}');
    expect((await unyank(alice, '1.0.0')).body).toBe('{"ok":true}');
    const restored = await getIndex(t, 'yankee');
    const [r1] = lines(restored.body);
    expect(r1).toBe(lines(yanked.body)[0].replace('"yanked":true', '"yanked":false'));
    expect(restored.body).not.toBe(yanked.body);
  });

  it('accept the empty application/json body `cargo yank` sends', async () => {
    for (const [method, how] of [
      ['DELETE', 'yank'],
      ['PUT', 'unyank'],
    ] as const) {
      const res = await t.app.inject({
        method,
        url: `${API}/yankee/1.1.0/${how}`,
        headers: { authorization: alice, 'content-type': 'application/json' },
        payload: '',
      });
      expect({ how, status: res.statusCode, body: res.body }).toEqual({ how, status: 200, body: '{"ok":true}' });
    }
  });

  it('answer an unknown version or crate with 404', async () => {
    expectCargoError(await yank(alice, '9.9.9'), 404, /has no version 9\.9\.9/);
    expectCargoError(await unyank(alice, '9.9.9'), 404, /has no version 9\.9\.9/);
    expectCargoError(await yank(alice, '1.0.0', 'nope'), 404, /crate `nope` does not exist/);
  });

  it('require a token (401 with the Cargo challenge)', async () => {
    for (const res of [await yank(undefined, '1.0.0'), await unyank(undefined, '1.0.0')]) {
      expectCargoError(res, 401, /needs a token/);
      expect(res.headers['www-authenticate']).toBe(`Cargo login_url="${BASE}/cargo/me"`);
    }
  });

  it('refuse a non-owner and a token without the yank scope (403), changing nothing', async () => {
    const before = await getIndex(t, 'yankee');
    expectCargoError(await yank(bob, '1.0.0'), 403, /not an owner of crate `yankee`/);
    expectCargoError(await yank(aliceNoYank, '1.0.0'), 403, /lacks the "yank" scope/);
    expectCargoError(await unyank(aliceNoYank, '1.0.0'), 403, /lacks the "yank" scope/);
    const limited = await tokenFor(t.registry, 'alice', { scopes: ['yank'], packagePattern: 'foo*' });
    expectCargoError(await yank(limited, '1.0.0'), 403, /limited to packages matching "foo\*"/);
    expect((await getIndex(t, 'yankee')).body).toBe(before.body);
  });

  it('let an admin token yank any crate', async () => {
    expect((await yank(t.adminToken, '1.1.0')).body).toBe('{"ok":true}');
    expect((await unyank(t.adminToken, '1.1.0')).body).toBe('{"ok":true}');
  });
});

describe('owners', () => {
  let t: TestApp;
  let alice: string;
  let carol: string;
  let aliceReadOnly: string;
  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'], userName: 'Alice A' });
    aliceReadOnly = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
    await t.registry.auth.createUser('bob');
    carol = await tokenFor(t.registry, 'carol', { scopes: ['publish', 'yank', 'owners'] });
    await publish(t, alice, 'owned', '1.0.0');
  });
  afterAll(async () => {
    await t.stop();
  });

  const list = () => t.app.inject({ method: 'GET', url: `${API}/owned/owners` });
  const change = (method: 'PUT' | 'DELETE', token: string | undefined, body: unknown, crate = 'owned') =>
    t.app.inject({
      method,
      url: `${API}/${crate}/owners`,
      headers: token ? { authorization: token } : {},
      ...(body === undefined ? {} : { payload: body as object }),
    });

  it('lists {"users":[{"id","login","name"}]} with u32 ids', async () => {
    const res = await list();
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['users']);
    expect(body.users).toHaveLength(1);
    expect(Object.keys(body.users[0])).toEqual(['id', 'login', 'name']);
    expect(body.users[0]).toMatchObject({ login: 'alice', name: 'Alice A' });
    expect(Number.isInteger(body.users[0].id) && body.users[0].id > 0 && body.users[0].id <= 0xffffffff).toBe(true);
  });

  it('adds with PUT and removes with a DELETE body, answering {ok:true,msg}', async () => {
    const add = await change('PUT', alice, { users: ['bob'] });
    expect(add.statusCode).toBe(200);
    expect(Object.keys(add.json())).toEqual(['ok', 'msg']);
    expect(add.json().ok).toBe(true);
    expect(add.json().msg).toMatch(/bob.*added.*owned/);
    expect((await list()).json().users.map((u: { login: string }) => u.login)).toEqual(['alice', 'bob']);
    expect((await list()).json().users[1].name).toBeNull();

    const again = await change('PUT', alice, { users: ['bob'] });
    expect(again.json().ok).toBe(true);
    expect((await list()).json().users).toHaveLength(2);

    const remove = await change('DELETE', alice, { users: ['bob'] });
    expect(remove.statusCode).toBe(200);
    expect(remove.json()).toEqual({ ok: true, msg: expect.stringMatching(/bob.*removed.*owned/) });
    expect((await list()).json().users.map((u: { login: string }) => u.login)).toEqual(['alice']);
  });

  it('lets a new owner publish, and stops a removed one', async () => {
    const bob = await tokenFor(t.registry, 'bob', { scopes: ['publish'] });
    const { body } = await simplePublishBody('owned', '2.0.0');
    expectCargoError(
      await t.app.inject({ method: 'PUT', url: `${API}/new`, headers: { authorization: bob }, payload: body }),
      403,
      /not an owner/,
    );
    await change('PUT', alice, { users: ['bob'] });
    expect((await t.app.inject({ method: 'PUT', url: `${API}/new`, headers: { authorization: bob }, payload: body })).statusCode).toBe(200);
    await change('DELETE', alice, { users: ['bob'] });
  });

  it('refuses to remove the last owner (400) and keeps it', async () => {
    expectCargoError(await change('DELETE', alice, { users: ['alice'] }), 400, /must keep at least one owner/);
    expect((await list()).json().users.map((u: { login: string }) => u.login)).toEqual(['alice']);
  });

  it('answers an unknown user with 404 and adds nobody of the list', async () => {
    expectCargoError(await change('PUT', alice, { users: ['bob', 'nobody-here'] }), 404, /no user `nobody-here`/);
    expect((await list()).json().users).toHaveLength(1);
  });

  it('refuses a non-owner and a token without the owners scope (403)', async () => {
    expectCargoError(await change('PUT', carol, { users: ['carol'] }), 403, /not an owner of crate `owned`/);
    expectCargoError(await change('DELETE', carol, { users: ['alice'] }), 403, /not an owner/);
    expectCargoError(await change('PUT', aliceReadOnly, { users: ['bob'] }), 403, /lacks the "owners" scope/);
    expect((await list()).json().users).toHaveLength(1);
  });

  it('requires a token for changes (401) but not for the list on a public repo', async () => {
    const res = await change('PUT', undefined, { users: ['bob'] });
    expectCargoError(res, 401);
    expect(res.headers['www-authenticate']).toBe(`Cargo login_url="${BASE}/cargo/me"`);
    expect((await list()).statusCode).toBe(200);
  });

  it('rejects a missing or malformed users list (400)', async () => {
    for (const body of [undefined, {}, { users: [] }, { users: 'bob' }, { users: [1] }, { users: [''] }]) {
      expectCargoError(await change('PUT', alice, body), 400, /\{"users":\["login", …\]\}/);
    }
    expectCargoError(
      await t.app.inject({
        method: 'PUT',
        url: `${API}/owned/owners`,
        headers: { authorization: alice, 'content-type': 'application/json' },
        payload: '{"users":',
      }),
      400,
    );
  });

  it('answers an unknown crate with 404', async () => {
    expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/nope/owners` }), 404, /crate `nope` does not exist/);
    expectCargoError(await change('PUT', alice, { users: ['bob'] }, 'nope'), 404, /crate `nope` does not exist/);
  });
});

describe('search', () => {
  let t: TestApp;
  let alice: string;
  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
    await publish(t, alice, 'aaa-hello-reg', '0.1.0', { description: 'first by name' });
    await publish(t, alice, 'hello-reg-plus', '0.1.0', { description: null });
    await publish(t, alice, 'hello_reg', '0.1.0', { description: 'The exact match' });
    await publish(t, alice, 'hello_reg', '0.2.0', { description: 'The exact match' });
    await publish(t, alice, 'hello_reg', '0.3.0', { description: 'The exact match' });
    await publish(t, alice, 'zzz-other', '1.0.0', { description: 'Works with Hello-Reg and says hello world' });
    await publish(t, alice, 'unrelated', '1.0.0', { description: 'nothing to see' });
  });
  afterAll(async () => {
    await t.stop();
  });

  const search = async (qs: string) => {
    const res = await t.app.inject({ method: 'GET', url: `${API}?${qs}` });
    expect(res.statusCode).toBe(200);
    return res.json() as { crates: Array<{ name: string; max_version: string; description: string | null }>; meta: { total: number } };
  };

  it('decodes a %2D query, limits with per_page, reports meta.total and puts the exact match first', async () => {
    const one = await search('q=hello%2Dreg&per_page=1');
    expect(one.meta.total).toBe(4);
    expect(one.crates).toEqual([{ name: 'hello_reg', max_version: '0.3.0', description: 'The exact match' }]);
    const all = await search('q=hello%2Dreg&per_page=10');
    // The shared ranking (issue 12): exact name, then names starting with the query, then text matches.
    expect(all.crates.map((c) => c.name)).toEqual(['hello_reg', 'hello-reg-plus', 'aaa-hello-reg', 'zzz-other']);
    expect(all.crates.find((c) => c.name === 'hello-reg-plus')!.description).toBeNull();
    expect(Object.keys(all)).toEqual(['crates', 'meta']);
  });

  it('matches spaces (%20) in descriptions, case-insensitively', async () => {
    const res = await search('q=HELLO%20WORLD&per_page=5');
    expect(res.crates.map((c) => c.name)).toEqual(['zzz-other']);
    expect(res.meta.total).toBe(1);
  });

  it('treats % and _ in the query literally', async () => {
    expect((await search('q=%25')).meta.total).toBe(0);
    expect((await search('q=hello_r')).crates.map((c) => c.name)).toEqual(
      expect.arrayContaining(['hello_reg', 'aaa-hello-reg', 'hello-reg-plus']),
    );
  });

  it('defaults per_page to 10, ignores unknown parameters, lists everything for an empty query', async () => {
    const res = await search('q=&foo=bar');
    expect(res.meta.total).toBe(5);
    expect(res.crates).toHaveLength(5);
    expect((await search('q=nothing-matches-this')).crates).toEqual([]);
  });

  it('reports max_version without yanked versions', async () => {
    const yank = (v: string, how: 'yank' | 'unyank') =>
      t.app.inject({ method: how === 'yank' ? 'DELETE' : 'PUT', url: `${API}/hello_reg/${v}/${how}`, headers: { authorization: alice } });
    expect((await yank('0.3.0', 'yank')).statusCode).toBe(200);
    expect((await search('q=hello_reg&per_page=1')).crates[0].max_version).toBe('0.2.0');
    await yank('0.2.0', 'yank');
    expect((await search('q=hello_reg&per_page=1')).crates[0].max_version).toBe('0.1.0');
    await yank('0.3.0', 'unyank');
    expect((await search('q=hello_reg&per_page=1')).crates[0].max_version).toBe('0.3.0');
    await yank('0.2.0', 'unyank');
  });

  it('works through a doubled slash', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/cargo//api/v1/crates?q=unrelated&per_page=1' });
    expect(res.json().crates[0].name).toBe('unrelated');
  });
});

describe('/me', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('is an HTML page that says how to get a token and log in', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/cargo/me' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toMatch(/^<!doctype html>/);
    expect(res.body).toContain('cargo login --registry cargo');
    expect(res.body).toContain(`index = &#34;sparse+${BASE}/cargo/index/&#34;`);
    expect(res.body).not.toContain('You are authenticated');
  });

  it('names the user of a valid token and ignores a bad one', async () => {
    const alice = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
    expect((await t.app.inject({ method: 'GET', url: '/cargo/me', headers: { authorization: alice } })).body).toContain(
      'authenticated as <b>alice</b>',
    );
    const bad = await t.app.inject({ method: 'GET', url: '/cargo/me', headers: { authorization: 'larder_bogus' } });
    expect(bad.statusCode).toBe(200);
    expect(bad.body).not.toContain('You are authenticated');
  });
});

describe('private repo', () => {
  let t: TestApp;
  let reader: string;
  let otherRepoReader: string;
  let crate: Buffer;
  const CHALLENGE = `Cargo login_url="${BASE}/secret/me"`;
  const SAPI = '/secret/api/v1/crates';
  beforeAll(async () => {
    t = await openTestApp({
      repos: [
        { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
        { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' },
      ],
    });
    reader = await tokenFor(t.registry, 'reader', { scopes: ['read'] });
    otherRepoReader = await tokenFor(t.registry, 'reader', { scopes: ['read'], repoPattern: 'cargo' });
    ({ crate } = await publish(t, t.adminToken, 'hidden', '1.0.0', {}, 'secret'));
  });
  afterAll(async () => {
    await t.stop();
  });

  const routes: Array<[string, 'GET' | 'PUT' | 'DELETE', string, object?]> = [
    ['config.json', 'GET', '/secret/index/config.json'],
    ['an index file', 'GET', `/secret/index/${indexPath('hidden')}`],
    ['an absent index file', 'GET', `/secret/index/${indexPath('absent')}`],
    ['a download', 'GET', `${SAPI}/hidden/1.0.0/download`],
    ['search', 'GET', `${SAPI}?q=hidden&per_page=5`],
    ['the owners list', 'GET', `${SAPI}/hidden/owners`],
    ['owners add', 'PUT', `${SAPI}/hidden/owners`, { users: ['reader'] }],
    ['owners remove', 'DELETE', `${SAPI}/hidden/owners`, { users: ['admin'] }],
    ['yank', 'DELETE', `${SAPI}/hidden/1.0.0/yank`],
    ['unyank', 'PUT', `${SAPI}/hidden/1.0.0/unyank`],
    ['publish', 'PUT', `${SAPI}/new`],
    ['an unknown route', 'GET', '/secret/whatever'],
  ];

  it.each(routes)('answers %s without a token with 401 and the challenge', async (_what, method, url, payload) => {
    const res = await t.app.inject({ method, url, ...(payload ? { payload } : {}) });
    expectCargoError(res, 401, /cargo login --registry secret/);
    expect(res.headers['www-authenticate']).toBe(CHALLENGE);
  });

  it.each(routes.slice(0, 6))('answers %s with an unknown token with 401 and the challenge', async (_what, method, url) => {
    const res = await t.app.inject({ method, url, headers: { authorization: 'larder_not-a-token' } });
    expectCargoError(res, 401, /token is not valid/);
    expect(res.headers['www-authenticate']).toBe(CHALLENGE);
  });

  it('says auth-required in config.json to a reader', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/secret/index/config.json', headers: { authorization: reader } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(`{"dl":"${BASE}/secret/api/v1/crates","api":"${BASE}/secret","auth-required":true}`);
  });

  it('serves index, download, search and owners to a read token', async () => {
    const h = { authorization: reader };
    const index = await getIndex(t, 'hidden', h, 'secret');
    expect(index.statusCode).toBe(200);
    expect(JSON.parse(index.body)).toMatchObject({ name: 'hidden', cksum: sha256Hex(crate) });
    expect((await getIndex(t, 'hidden', { ...h, 'if-none-match': index.headers.etag as string }, 'secret')).statusCode).toBe(304);
    const dl = await t.app.inject({ method: 'GET', url: `${SAPI}/hidden/1.0.0/download`, headers: h });
    expect(dl.statusCode).toBe(200);
    expect(dl.rawPayload.equals(crate)).toBe(true);
    expect(dl.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    const search = await t.app.inject({ method: 'GET', url: `${SAPI}?q=hidden&per_page=5`, headers: h });
    expect(search.json()).toEqual({
      crates: [{ name: 'hidden', max_version: '1.0.0', description: 'the hidden crate' }],
      meta: { total: 1 },
    });
    const owners = await t.app.inject({ method: 'GET', url: `${SAPI}/hidden/owners`, headers: h });
    expect(owners.json().users.map((u: { login: string }) => u.login)).toEqual(['admin']);
  });

  it('answers unknown crates with 404, not 403, to a read token', async () => {
    const h = { authorization: reader };
    expectCargoError(await getIndex(t, 'absent', h, 'secret'), 404);
    expectCargoError(await getIndex(t, 'hidden_', h, 'secret'), 404);
    expectCargoError(await t.app.inject({ method: 'GET', url: `${SAPI}/absent/1.0.0/download`, headers: h }), 404);
    expectCargoError(await t.app.inject({ method: 'GET', url: `${SAPI}/absent/owners`, headers: h }), 404);
    expectCargoError(await t.app.inject({ method: 'GET', url: '/secret/whatever', headers: h }), 404);
  });

  it('refuses a read token limited to another repo (403)', async () => {
    expectCargoError(
      await getIndex(t, 'hidden', { authorization: otherRepoReader }, 'secret'),
      403,
      /limited to repositories matching "cargo"/,
    );
  });

  it('refuses writes to a read token (403)', async () => {
    expectCargoError(
      await t.app.inject({ method: 'DELETE', url: `${SAPI}/hidden/1.0.0/yank`, headers: { authorization: reader } }),
      403,
      /lacks the "yank" scope/,
    );
    const { body } = await simplePublishBody('hidden', '2.0.0');
    expectCargoError(
      await t.app.inject({ method: 'PUT', url: `${SAPI}/new`, headers: { authorization: reader }, payload: body }),
      403,
      /lacks the "publish" scope/,
    );
  });

  it('serves /me without a token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/secret/me' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('leaves the public repo public: no auth-required, tokens ignored on reads', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/cargo/index/config.json' })).json()).not.toHaveProperty('auth-required');
    expect(
      (await t.app.inject({ method: 'GET', url: '/cargo/index/config.json', headers: { authorization: 'larder_garbage' } })).statusCode,
    ).toBe(200);
    // A crate of the private repo is not visible through the public one.
    expectCargoError(await getIndex(t, 'hidden', { authorization: reader }), 404);
    expectCargoError(await t.app.inject({ method: 'GET', url: `${API}/hidden/1.0.0/download` }), 404);
  });
});
