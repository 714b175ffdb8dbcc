/**
 * `PUT /api/v1/crates/new` refusals (each answered in Cargo's error shape, with storage left
 * exactly as it was), token checks, and concurrent publishes on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import {
  cargoToml,
  expectCargoError,
  makeCrate,
  newCrateJson,
  newDep,
  publishBody,
  simplePublishBody,
  storageState,
  tarGz,
  tokenFor,
  u32le,
} from '../../../test/support/cargo.js';
import { indexPath } from './names.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BASE = 'https://larder.test';
const API = '/cargo/api/v1/crates';

/** Streams a buffer in pieces with no Content-Length (chunked), as a proxy might forward it. */
function chunkedStream(buf: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

type Body = Buffer | { stream: Buffer };

function put(t: TestApp, body: Body, headers: Record<string, string | undefined> = {}): Promise<LightMyRequestResponse> {
  if (Buffer.isBuffer(body)) return t.app.inject({ method: 'PUT', url: `${API}/new`, headers, payload: body });
  return t.app.inject({
    method: 'PUT',
    url: `${API}/new`,
    headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked', ...headers },
    payload: chunkedStream(body.stream),
  });
}

describe('publish: bad input', () => {
  let t: TestApp;
  let alice: string;
  let good: Buffer;
  let goodCrate: Buffer;
  let jsonLength: number;

  beforeAll(async () => {
    t = await openTestApp({ limits: { maxUnpackedSize: MiB, maxCrateSize: 256 * KiB, maxMetadataSize: 16 * KiB } });
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
    const first = await simplePublishBody('hello_reg', '1.0.0');
    const published = await put(t, first.body, { authorization: alice });
    expect(published.statusCode, published.body).toBe(200);
    const next = await simplePublishBody('hello_reg', '2.0.0');
    good = next.body;
    goodCrate = next.crate;
    jsonLength = good.readUInt32LE(0);
  });
  afterAll(async () => {
    await t.stop();
  });

  /** Sends the body and asserts the refusal, and that the database and blob store did not change. */
  async function refused(
    body: Body,
    status: number,
    detail: RegExp,
    headers: Record<string, string | undefined> = { authorization: alice },
  ): Promise<string> {
    const before = await storageState(t.registry, t.data);
    const index = await t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath('hello_reg')}` });
    const res = await put(t, body, headers);
    const text = expectCargoError(res, status, detail);
    const after = await storageState(t.registry, t.data);
    expect(after).toEqual(before);
    expect(after.tmpFiles).toEqual([]);
    const indexAfter = await t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath('hello_reg')}` });
    expect(indexAfter.body).toBe(index.body);
    expect(indexAfter.headers.etag).toBe(index.headers.etag);
    return text;
  }

  /** A publish of hello_reg@2.0.0 (or another name/version) with metadata changes. */
  async function withMeta(fields: Record<string, unknown>, name = 'hello_reg', vers = '2.0.0'): Promise<Buffer> {
    return publishBody(
      newCrateJson({ name, vers, ...fields }),
      await makeCrate({
        name: typeof fields.name === 'string' ? fields.name : name,
        vers: typeof fields.vers === 'string' ? fields.vers : vers,
      }),
    );
  }

  async function withEntries(entries: Parameters<typeof tarGz>[0]): Promise<Buffer> {
    return publishBody(newCrateJson({ name: 'hello_reg', vers: '2.0.0' }), await makeCrate({ name: 'hello_reg', vers: '2.0.0', entries }));
  }

  describe('framing', () => {
    const RETRY = /the upload was cut off; retry `cargo publish`/;

    it('refuses an empty body', async () => {
      await refused(Buffer.alloc(0), 400, /ended after 0 bytes, in the metadata length/);
      await refused({ stream: Buffer.alloc(0) }, 400, /ended after 0 bytes, in the metadata length/);
    });

    it('refuses a body cut in json_len', async () => {
      await refused(good.subarray(0, 2), 400, /ended after 2 bytes, in the metadata length \(2 of 4 bytes\).*retry/);
      await refused({ stream: good.subarray(0, 3) }, 400, RETRY);
    });

    it('refuses a body cut in the metadata JSON', async () => {
      await refused(
        good.subarray(0, 4 + 10),
        400,
        /ended after 14 bytes, in the metadata JSON \(10 of \d+ bytes\); the upload was cut off/,
      );
      await refused({ stream: good.subarray(0, 4 + jsonLength - 1) }, 400, /in the metadata JSON/);
    });

    it('refuses a body cut in crate_len', async () => {
      await refused(good.subarray(0, 4 + jsonLength + 2), 400, /in the \.crate length \(2 of 4 bytes\)/);
      await refused({ stream: good.subarray(0, 4 + jsonLength + 3) }, 400, /in the \.crate length/);
    });

    it('refuses a body cut in the .crate', async () => {
      const cut = good.subarray(0, good.length - 100);
      await refused(
        cut,
        400,
        new RegExp(`the publish body is ${cut.length} bytes but its length fields add up to ${good.length}; the request was not framed`),
      );
      await refused(
        { stream: cut },
        400,
        new RegExp(`ended after ${cut.length} bytes but its length fields add up to ${good.length}; the upload was cut off`),
      );
      await refused({ stream: good.subarray(0, 4 + jsonLength + 4 + 1) }, 400, RETRY);
    });

    it('refuses trailing bytes after the .crate', async () => {
      const long = Buffer.concat([good, Buffer.from('extra')]);
      await refused(long, 400, new RegExp(`the publish body is ${long.length} bytes but its length fields add up to ${good.length}`));
      await refused(
        { stream: long },
        400,
        /the publish body has bytes after the \.crate \(its length fields add up to \d+\); the request was not framed the way cargo frames it/,
      );
    });

    it('refuses a Content-Length that disagrees with the frame', async () => {
      await refused(good, 400, /length fields add up to/, { authorization: alice, 'content-length': String(good.length + 10) });
    });

    it('refuses json_len beyond the metadata limit before reading it', async () => {
      const json = Buffer.from(JSON.stringify(newCrateJson({ name: 'hello_reg', vers: '2.0.0', readme: 'x'.repeat(20 * KiB) })));
      await refused(
        publishBody(json, goodCrate),
        413,
        /the publish metadata is 20\.\d+ KiB, more than this registry's limit of 16 KiB; shorten the README or description/,
      );
      await refused(Buffer.concat([u32le(0xffffffff), Buffer.from('{}')]), 413, /more than this registry's limit of 16 KiB/);
    });

    it('refuses crate_len beyond the crate limit before reading it', async () => {
      const json = Buffer.from(JSON.stringify(newCrateJson({ name: 'hello_reg', vers: '2.0.0' })));
      await refused(
        Buffer.concat([u32le(json.length), json, u32le(0xffffffff), goodCrate]),
        413,
        /the \.crate is 4 GiB, more than this registry's limit of 256 KiB; exclude files from the package \(see `cargo package --list`\)/,
      );
    });

    it('refuses an oversized .crate', async () => {
      const crate = await makeCrate({ name: 'hello_reg', vers: '2.0.0', files: { 'noise.bin': randomBytes(300 * KiB) } });
      expect(crate.length).toBeGreaterThan(256 * KiB);
      await refused(
        publishBody(newCrateJson({ name: 'hello_reg', vers: '2.0.0' }), crate),
        413,
        /more than this registry's limit of 256 KiB; exclude files/,
      );
      await refused({ stream: publishBody(newCrateJson({ name: 'hello_reg', vers: '2.0.0' }), crate) }, 413, /limit of 256 KiB/);
    });
  });

  describe('metadata', () => {
    it('refuses invalid JSON', async () => {
      await refused(publishBody('{"name":"hello_reg",', goodCrate), 400, /the publish metadata is not valid JSON/);
      await refused(publishBody('', goodCrate), 400, /not valid JSON/);
      await refused(publishBody(Buffer.from([0xff, 0xfe, 0x7b]), goodCrate), 400, /not valid JSON/);
    });

    it.each(['[]', '"hello_reg"', 'null', '42', 'true'])('refuses metadata %s that is not an object', async (json) => {
      await refused(publishBody(json, goodCrate), 400, /the publish metadata must be a JSON object/);
    });

    it.each([
      ['a path', '../x', /invalid crate name "\.\.\/x": use only ASCII letters, digits, '-' and '_', starting with a letter/],
      ['empty', '', /the crate name is empty; set package\.name in Cargo\.toml/],
      ['missing', undefined, /the crate name is empty/],
      ['65 characters', 'a'.repeat(65), /is 65 characters long; the limit is 64/],
      ['nul', 'nul', /"nul" is a reserved name on Windows/],
      ['COM1', 'COM1', /"COM1" is a reserved name on Windows/],
      ['a leading digit', '1abc', /starting with a letter/],
      ['unicode', 'héllo', /invalid crate name "héllo": use only ASCII letters/],
      ['a space', 'hello reg', /use only ASCII letters/],
    ])('refuses a name that is %s', async (_what, name, detail) => {
      const meta = newCrateJson({ name: 'x', vers: '2.0.0' });
      if (name === undefined) delete meta.name;
      else meta.name = name;
      await refused(publishBody(meta, goodCrate), 400, detail);
    });

    it.each([['1.0'], ['v1.0.0'], ['01.0.0'], ['1.0.0-01'], ['1.0.0+'], [''], ['latest'], [1]])('refuses the version %j', async (vers) => {
      await refused(
        publishBody(newCrateJson({ name: 'hello_reg', vers: vers as string }), goodCrate),
        400,
        /versions must be SemVer 2\.0\.0, like 1\.2\.3/,
      );
    });

    it('refuses metadata without deps', async () => {
      const meta = newCrateJson({ name: 'hello_reg', vers: '2.0.0' });
      delete meta.deps;
      await refused(publishBody(meta, goodCrate), 400, /the publish metadata has no "deps" list/);
    });

    it.each([['>=1 <2'], ['latest'], [''], ['1.0.0.0'], [null]])('refuses the dependency requirement %j', async (req) => {
      await refused(
        await withMeta({ deps: [newDep('hello_reg', req as string)] }),
        400,
        /dependency "hello_reg": version requirement .* does not parse; write it like "1\.2", "\^0\.6"/,
      );
    });

    it.each([['Normal'], ['devel'], ['']])('refuses the dependency kind %j', async (kind) => {
      await refused(await withMeta({ deps: [newDep('hello_reg', '1', { kind })] }), 400, /kind must be "normal", "dev" or "build"/);
    });

    it('refuses a dependency that is not in the registry', async () => {
      await refused(
        await withMeta({ deps: [newDep('no-such-crate', '^1')] }),
        400,
        /dependency `no-such-crate` is not in this registry; publish it here first/,
      );
    });

    it('refuses a malformed dependency', async () => {
      await refused(await withMeta({ deps: ['serde'] }), 400, /deps\[0\] must be an object/);
      await refused(await withMeta({ deps: [newDep('../evil', '1')] }), 400, /name "\.\.\/evil" is not a crate name/);
      await refused(
        await withMeta({ deps: [newDep('hello_reg', '1', { registry: 'not a url' })] }),
        400,
        /registry "not a url" is not an index URL/,
      );
      await refused(
        await withMeta({ deps: [newDep('hello_reg', '1', { optional: 'yes' as unknown as boolean })] }),
        400,
        /optional must be true or false/,
      );
    });

    it('refuses bad features, rust_version and links', async () => {
      await refused(await withMeta({ features: { default: 'std' } }), 400, /feature "default" must list strings/);
      await refused(await withMeta({ features: { 'a b': [] } }), 400, /invalid feature name "a b"/);
      await refused(await withMeta({ features: ['std'] }), 400, /features must be an object/);
      await refused(await withMeta({ rust_version: '^1.70' }), 400, /rust_version "\^1\.70" is not a Rust version like 1\.70/);
      await refused(await withMeta({ links: '' }), 400, /links must not be empty/);
      await refused(await withMeta({ description: 42 }), 400, /description must be a string or null/);
    });
  });

  describe('conflicts', () => {
    it('refuses a version that is already published (with other content: an identical repeat is a replay, publish-replay.test.ts)', async () => {
      await refused(
        await withMeta({ description: 'another description' }, 'hello_reg', '1.0.0'),
        409,
        /crate `hello_reg` version 1\.0\.0 is already published; bump the version in Cargo\.toml/,
      );
    });

    it('refuses 1.0.0+other when 1.0.0 exists (build metadata is not a new version)', async () => {
      await refused(
        await withMeta({}, 'hello_reg', '1.0.0+other'),
        409,
        /version 1\.0\.0 is already published \(build metadata does not make 1\.0\.0\+other a new version\)/,
      );
    });

    it.each(['Hello_Reg', 'hello-reg', 'HELLO-REG', 'Hello-reg'])(
      'refuses %s next to hello_reg (case and -/_ collisions)',
      async (name) => {
        await refused(
          await withMeta({}, name, '3.0.0'),
          409,
          new RegExp(`crate \`${name}\` collides with the existing crate \`hello_reg\`.*publish under the name \`hello_reg\``),
        );
      },
    );
  });

  describe('the .crate', () => {
    it('refuses a Cargo.toml whose name or version disagrees with the metadata', async () => {
      const meta = newCrateJson({ name: 'hello_reg', vers: '2.0.0' });
      await refused(
        publishBody(meta, await makeCrate({ name: 'hello_reg', vers: '2.0.0', manifest: cargoToml('other', '2.0.0') })),
        400,
        /Cargo\.toml in the \.crate says package\.name = "other" but the publish metadata says "hello_reg"; publish the \.crate that `cargo package` built/,
      );
      await refused(
        publishBody(meta, await makeCrate({ name: 'hello_reg', vers: '2.0.0', manifest: cargoToml('hello_reg', '9.9.9') })),
        400,
        /says package\.version = "9\.9\.9" but the publish metadata says "2\.0\.0"/,
      );
      await refused(
        publishBody(meta, await makeCrate({ name: 'hello_reg', vers: '2.0.0', manifest: '[package]\nname = "hello_reg"\n' })),
        400,
        /has no string package\.version/,
      );
    });

    it('refuses a .crate laid out for another crate or version', async () => {
      await refused(
        publishBody(newCrateJson({ name: 'hello_reg', vers: '2.0.0' }), await makeCrate({ name: 'hello_reg', vers: '1.9.0' })),
        400,
        /is not inside hello_reg-2\.0\.0\//,
      );
    });

    it('refuses a .crate without Cargo.toml or with invalid TOML', async () => {
      const meta = newCrateJson({ name: 'hello_reg', vers: '2.0.0' });
      await refused(
        publishBody(meta, await makeCrate({ name: 'hello_reg', vers: '2.0.0', manifest: null })),
        400,
        /the \.crate has no hello_reg-2\.0\.0\/Cargo\.toml; rebuild it with `cargo package`/,
      );
      await refused(
        publishBody(meta, await makeCrate({ name: 'hello_reg', vers: '2.0.0', manifest: '[package\nname=' })),
        400,
        /is not valid TOML/,
      );
    });

    it('refuses paths escaping the crate directory', async () => {
      await refused(
        await withEntries([{ name: 'hello_reg-2.0.0/../evil', body: 'x' }]),
        400,
        /the \.crate entry hello_reg-2\.0\.0\/\.\.\/evil contains a "\.\." component/,
      );
      await refused(await withEntries([{ name: '../evil', body: 'x' }]), 400, /\.\.\/evil contains a "\.\." component/);
      await refused(await withEntries([{ name: 'other-1.0.0/evil', body: 'x' }]), 400, /is not inside hello_reg-2\.0\.0\//);
    });

    it('refuses an absolute path', async () => {
      await refused(await withEntries([{ name: '/etc/evil', body: 'x' }]), 400, /the \.crate entry \/etc\/evil is an absolute path/);
    });

    it('refuses a symlink pointing outside and a hard link', async () => {
      await refused(
        await withEntries([{ name: 'hello_reg-2.0.0/link', type: 'symlink', linkname: '../../../etc/passwd' }]),
        400,
        /links are not allowed in a \.crate: hello_reg-2\.0\.0\/link -> \.\.\/\.\.\/\.\.\/etc\/passwd/,
      );
      await refused(
        await withEntries([{ name: 'hello_reg-2.0.0/hard', type: 'link', linkname: 'hello_reg-2.0.0/Cargo.toml' }]),
        400,
        /links are not allowed in a \.crate: hello_reg-2\.0\.0\/hard/,
      );
    });

    it('refuses device files', async () => {
      await refused(
        await withEntries([{ name: 'hello_reg-2.0.0/dev', type: 'character-device', devmajor: 1, devminor: 3 }]),
        400,
        /only regular files and directories are allowed in a \.crate, but hello_reg-2\.0\.0\/dev is a character-device/,
      );
    });

    it('refuses a gzip bomb (20 MiB of zeros against a 1 MiB unpack limit)', async () => {
      const crate = await makeCrate({ name: 'hello_reg', vers: '2.0.0', files: { 'zeros.bin': Buffer.alloc(20 * MiB) } });
      expect(crate.length).toBeLessThan(256 * KiB);
      const body = publishBody(newCrateJson({ name: 'hello_reg', vers: '2.0.0' }), crate);
      await refused(body, 413, /the \.crate unpacks to more than 1 MiB, the limit of this registry; exclude large files from the package/);
      await refused({ stream: body }, 413, /unpacks to more than 1 MiB/);
    });

    it('refuses bytes that are not gzip, gzip that is not tar, and a cut gzip stream', async () => {
      const meta = newCrateJson({ name: 'hello_reg', vers: '2.0.0' });
      await refused(
        publishBody(meta, Buffer.from('PK\x03\x04 this is a zip, not a crate')),
        400,
        /the \.crate is not a gzip file \(it must start with bytes 1f 8b\)/,
      );
      await refused(publishBody(meta, Buffer.alloc(0)), 400, /not a gzip file/);
      await refused(publishBody(meta, Buffer.from([0x1f])), 400, /not a gzip file/);
      await refused(
        publishBody(meta, gzipSync(Buffer.from('just text, no tar here\n'.repeat(100)))),
        400,
        /the \.crate does not contain a valid tar archive|has no hello_reg-2\.0\.0\/Cargo\.toml/,
      );
      await refused(
        publishBody(meta, goodCrate.subarray(0, Math.floor(goodCrate.length / 2))),
        400,
        /not a valid gzip stream|ended before the archive was complete/,
      );
      const corrupt = Buffer.from(goodCrate);
      corrupt[20] ^= 0xff;
      corrupt[40] ^= 0xff;
      await refused(publishBody(meta, corrupt), 400, /not a valid gzip stream|valid tar/);
    });
  });

  describe('tokens', () => {
    it('refuses a publish without a token with 401 and the Cargo challenge', async () => {
      const before = await storageState(t.registry, t.data);
      const res = await put(t, good, {});
      expectCargoError(
        res,
        401,
        /this request needs a token: run `cargo login --registry cargo` with a token from https:\/\/larder\.test\/cargo\/me/,
      );
      expect(res.headers['www-authenticate']).toBe(`Cargo login_url="${BASE}/cargo/me"`);
      expect(await storageState(t.registry, t.data)).toEqual(before);
    });

    it('refuses an unknown token (401)', async () => {
      await refused(good, 401, /the token is not valid; create one with `larder token create`/, { authorization: 'larder_unknown-token' });
      await refused(good, 401, /not valid/, { authorization: 'Bearer larder_unknown-token' });
    });

    it('refuses an expired token (401)', async () => {
      const expired = await tokenFor(t.registry, 'alice', { scopes: ['publish'], expiresInMs: -1 });
      await refused(good, 401, /the token larder_\S+… expired on .*; create a new one/, { authorization: expired });
    });

    it('refuses a revoked token (401)', async () => {
      const token = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
      const row = (await t.registry.auth.listTokens('alice')).at(-1)!;
      await t.registry.auth.revokeToken(String(row.id));
      await refused(good, 401, /the token larder_\S+… was revoked; create a new one/, { authorization: token });
    });

    it('refuses under-scoped tokens (403)', async () => {
      const readOnly = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
      await refused(
        good,
        403,
        /this token lacks the "publish" scope \(it has: read\); create one with `larder token create --scopes publish`/,
        { authorization: readOnly },
      );
      const yankOnly = await tokenFor(t.registry, 'alice', { scopes: ['yank', 'owners'] });
      await refused(good, 403, /lacks the "publish" scope/, { authorization: yankOnly });
      const otherRepo = await tokenFor(t.registry, 'alice', { scopes: ['publish'], repoPattern: 'other' });
      await refused(good, 403, /this token is limited to repositories matching "other", not "cargo"/, { authorization: otherRepo });
      const fooOnly = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'foo*' });
      await refused(good, 403, /this token is limited to packages matching "foo\*", not "hello_reg"/, { authorization: fooOnly });
    });

    it('refuses a user who does not own the crate (403)', async () => {
      const bob = await tokenFor(t.registry, 'bob', { scopes: ['publish'] });
      await refused(good, 403, /you \(bob\) are not an owner of crate `hello_reg`; ask an owner to run `cargo owner --add bob hello_reg`/, {
        authorization: bob,
      });
    });

    it('lets a package-limited token publish what it matches', async () => {
      const fooOnly = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'foo*' });
      const { body } = await simplePublishBody('foo-limited', '1.0.0');
      expect((await put(t, body, { authorization: fooOnly })).statusCode).toBe(200);
    });

    it('still accepts the good body after all those refusals', async () => {
      expect((await put(t, good, { authorization: alice })).statusCode).toBe(200);
      const index = await t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath('hello_reg')}` });
      expect(
        index.body
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l).vers),
      ).toEqual(['1.0.0', '2.0.0']);
      expect((await storageState(t.registry, t.data)).tmpFiles).toEqual([]);
    });
  });
});

/** The same concurrency checks on each database. */
function concurrencySuite(open: () => Promise<TestApp>): void {
  let t: TestApp;
  let alice: string;
  beforeAll(async () => {
    t = await open();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const indexLines = async (name: string): Promise<Array<{ name: string; vers: string }>> => {
    const res = await t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath(name)}` });
    expect(res.statusCode).toBe(200);
    expect(res.body.endsWith('\n')).toBe(true);
    return res.body
      .slice(0, -1)
      .split('\n')
      .map((l) => JSON.parse(l));
  };

  it('takes 20 versions of one crate and 20 different crates at once, every line exactly once', async () => {
    const versions = Array.from({ length: 20 }, (_, i) => `1.${i}.0`);
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    const bodies = await Promise.all([
      ...versions.map((v) => simplePublishBody('burst', v)),
      ...names.map((n) => simplePublishBody(n, '0.1.0')),
    ]);
    const results = await Promise.all(bodies.map(({ body }) => put(t, body, { authorization: alice })));
    expect(results.map((r) => `${r.statusCode} ${r.statusCode === 200 ? '' : r.body}`)).toEqual(results.map(() => '200 '));

    const burst = await indexLines('burst');
    expect(burst).toHaveLength(20);
    expect(burst.map((l) => l.vers).sort()).toEqual([...versions].sort());
    expect(new Set(burst.map((l) => l.vers)).size).toBe(20);
    for (const n of names) expect((await indexLines(n)).map((l) => `${l.name}@${l.vers}`)).toEqual([`${n}@0.1.0`]);

    const owners = await t.app.inject({ method: 'GET', url: `${API}/burst/owners` });
    expect(owners.json().users.map((u: { login: string }) => u.login)).toEqual(['alice']);
    const state = await storageState(t.registry, t.data);
    expect(state.rows).toMatchObject({ cargo_crates: 21, cargo_versions: 40, package_owners: 21, index_docs: 21, blobs: 40 });
    expect(Object.keys(state.blobFiles)).toHaveLength(40);
    expect(state.tmpFiles).toEqual([]);
    const search = await t.app.inject({ method: 'GET', url: `${API}?q=burst&per_page=1` });
    expect(search.json().crates[0]).toMatchObject({ name: 'burst', max_version: '1.19.0' });
  });

  it('accepts exactly one of several concurrent different publishes of the same version (build metadata ignored)', async () => {
    // Each body differs (identical ones are replays, all answered with success: publish-replay.test.ts).
    const bodies = await Promise.all(
      ['1.0.0', '1.0.0', '1.0.0', '1.0.0+b1', '1.0.0+b2'].map((v, i) => simplePublishBody('dupe', v, { description: `attempt ${i}` })),
    );
    const results = await Promise.all(bodies.map(({ body }) => put(t, body, { authorization: alice })));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.statusCode === 409)) expectCargoError(r, 409, /already published|published at the same moment/);
    expect(await indexLines('dupe')).toHaveLength(1);
    expect((await storageState(t.registry, t.data)).tmpFiles).toEqual([]);
  });

  it('lets only one of two colliding spellings of a new crate in', async () => {
    const spellings = ['Race_Name', 'race-name', 'RACE_NAME'];
    const bodies = await Promise.all(spellings.map((n) => simplePublishBody(n, '1.0.0')));
    const results = await Promise.all(bodies.map(({ body }) => put(t, body, { authorization: alice })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
    for (const r of results.filter((x) => x.statusCode === 409)) expectCargoError(r, 409, /collides with the existing crate/);
    const winner = spellings[results.findIndex((r) => r.statusCode === 200)];
    expect((await indexLines(winner)).map((l) => l.name)).toEqual([winner]);
    const loserPath = winner.includes('-') ? 'race_name' : 'race-name';
    expect((await t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath(loserPath)}` })).statusCode).toBe(404);
  });

  it('keeps every line when yanks and publishes of one crate interleave', async () => {
    await put(t, (await simplePublishBody('mixed', '0.1.0')).body, { authorization: alice });
    const publishes = await Promise.all(Array.from({ length: 8 }, (_, i) => simplePublishBody('mixed', `0.2.${i}`)));
    const results = await Promise.all([
      ...publishes.map(({ body }) => put(t, body, { authorization: alice })),
      ...Array.from({ length: 4 }, (_, i) =>
        t.app.inject({
          method: i % 2 ? 'PUT' : 'DELETE',
          url: `${API}/mixed/0.1.0/${i % 2 ? 'unyank' : 'yank'}`,
          headers: { authorization: alice },
        }),
      ),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual(results.map(() => 200));
    const lines = await indexLines('mixed');
    expect(lines.map((l) => l.vers).sort()).toEqual(['0.1.0', ...publishes.map((_, i) => `0.2.${i}`)].sort());
  });
}

describe('publish: concurrency (SQLite)', () => {
  concurrencySuite(() => openTestApp());
});

describe('publish: concurrency (PostgreSQL)', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  concurrencySuite(async () => openTestApp({ database: await pg.newDatabase() }));
});
