import { createHash } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordGitCommit } from '../../registry/git-history/record.js';
import { historyTip } from '../../registry/git-history/state.js';
import { inTransaction } from '../../registry/tx.js';
import { tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { moduleZip, publishForm, publishRequest } from '../../../test/support/moonbit-publish.js';
import { registryState } from '../../../test/support/state.js';
import { writeZip } from './zip.js';
import { makeZip } from '../../../test/support/archives.js';

let t: TestApp;
let alice: string;
let mallory: string;
let bob: string;
let readOnly: string;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const manifest = (name: string, version: string, more: Record<string, unknown> = {}) => ({ name, version, ...more });

beforeAll(async () => {
  t = await openTestApp({
    repos: [
      { name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      { name: 'up', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: 'http://127.0.0.1:1' },
      { name: 'all', format: 'moonbit', kind: 'group', visibility: 'public', members: ['moon', 'up'] },
    ],
  });
  alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
  mallory = await tokenFor(t.registry, 'mallory', { scopes: ['publish', 'yank'] });
  bob = await tokenFor(t.registry, 'bob', { scopes: ['publish', 'yank'] });
  readOnly = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
  // The proxy's copy of its upstream index: mizchi/git exists upstream.
  const up = t.registry.repos.get('up')!;
  await inTransaction(t.registry, async (uow) => {
    await recordGitCommit(
      uow.trx,
      { repoId: up.id, history: 'index' },
      {
        message: 'upstream',
        changes: [
          { path: 'user/mizchi/git.index', data: Buffer.from(`{"name":"mizchi/git","version":"0.2.0","checksum":"${'a'.repeat(64)}"}\n`) },
        ],
      },
    );
  });
});
afterAll(async () => {
  await t?.stop();
});

async function send(req: InjectOptions) {
  return t.app.inject(req);
}

/** Sends a request that must be refused with `status`, and checks that nothing changed. */
async function refused(req: InjectOptions, status: number, detail: RegExp) {
  const before = await state();
  const res = await send(req);
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect((res.json() as { detail: string }).detail).toMatch(detail);
  expect(await state()).toEqual(before);
  return res;
}

/** Everything but the proxy's cache, which a dependency lookup through the group's proxy may fill (a read). */
async function state() {
  const s = await registryState(t.registry, t.data);
  for (const name of Object.keys(s.tables)) if (name.startsWith('proxy_')) delete s.tables[name];
  return s;
}

const indexOf = async (module: string) =>
  (await t.registry.docs.get(t.registry.repos.get('moon')!.id, `user/${module}.index`))?.body.toString();

describe('POST /{repo}/api/v0/publish', () => {
  it('publishes a module as mooncake sends it: the index line is the manifest plus checksum, one commit', async () => {
    const m = { name: 'alice/json', version: '0.1.0', deps: {}, readme: 'README.md', 'preferred-target': 'wasm-gc', description: 'JSON' };
    const zip = moduleZip(m);
    const moon = t.registry.repos.get('moon')!;
    const head = (await historyTip(t.registry.db, { repoId: moon.id, history: 'index' })).head;
    const res = await send(await publishRequest('moon', alice, zip));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
    expect(await indexOf('alice/json')).toBe(`${JSON.stringify({ ...m, checksum: sha(zip) })}\n`);
    const tip = await historyTip(t.registry.db, { repoId: moon.id, history: 'index' });
    expect(tip.head).toBeGreaterThan(head);
    expect(tip.message).toBe('Publish alice/json@0.1.0');
    expect(Buffer.from(tip.files.get('user/alice/json.index')!.data).toString()).toBe(await indexOf('alice/json'));
    const blob = await t.registry.blobs.open(sha(zip));
    expect(blob).not.toBeNull();
  });

  it('accepts the token as Authorization: Bearer and as a bare header, and appends a line per version', async () => {
    const z2 = moduleZip(manifest('alice/json', '0.2.0', { deps: { 'alice/json': '0.1.0', 'moonbitlang/core': '0.0.0' } }));
    expect((await send(await publishRequest('moon', alice, z2, { header: true }))).statusCode).toBe(200);
    const z3 = moduleZip(manifest('alice/json', '0.3.0-alpha.1+build.5'));
    const req = await publishRequest('moon', null, z3);
    const res = await send({ ...req, headers: { ...req.headers, authorization: alice } });
    expect(res.statusCode, res.body).toBe(200);
    const lines = (await indexOf('alice/json'))!.trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { version: string }).version)).toEqual(['0.1.0', '0.2.0', '0.3.0-alpha.1+build.5']);
  });

  it('parses moon.mod (key = value) as well', async () => {
    const text = [
      '// a newer manifest',
      'name = "alice/modfile"',
      'version = "1.0.0"',
      'deps = {',
      '  "alice/json": "0.1.0"',
      '}',
      'preferred-target = "js"',
    ].join('\n');
    const zip = writeZip([{ path: 'moon.mod', data: Buffer.from(text) }]);
    const res = await send(await publishRequest('moon', alice, zip));
    expect(res.statusCode, res.body).toBe(200);
    expect(JSON.parse((await indexOf('alice/modfile'))!)).toEqual({
      name: 'alice/modfile',
      version: '1.0.0',
      deps: { 'alice/json': '0.1.0' },
      'preferred-target': 'js',
      checksum: sha(zip),
    });
  });

  it('dry runs (?dry_run=true or a dry_run field) check everything and store nothing: 202', async () => {
    const zip = moduleZip(manifest('alice/dry', '1.0.0'));
    for (const req of [
      await publishRequest('moon', alice, zip, { query: '?dry_run=true' }),
      {
        method: 'POST' as const,
        url: '/moon/api/v0/publish',
        ...(await publishForm([
          ['token', alice],
          ['dry_run', 'true'],
          ['file', zip],
        ])),
      },
    ]) {
      const before = await state();
      const res = await send(req);
      expect(res.statusCode, res.body).toBe(202);
      expect((res.json() as { detail: string }).detail).toMatch(/^Dry run completed successfully\. No changes were made/);
      expect(await state()).toEqual(before);
    }
    // A dry run still refuses what a publish would.
    await refused(
      await publishRequest('moon', alice, moduleZip(manifest('alice/json', '0.1.0')), { query: '?dry_run=true' }),
      409,
      /Version Error/,
    );
  });

  it('refuses a duplicate version (409) and keeps the line', async () => {
    const before = await indexOf('alice/json');
    await refused(
      await publishRequest('moon', alice, moduleZip(manifest('alice/json', '0.1.0', { description: 'changed' }))),
      409,
      /^Version Error: The version you are attempting to upload \(0\.1\.0\) is duplicated with an existing version/,
    );
    expect(await indexOf('alice/json')).toBe(before);
  });

  it("refuses another user's namespace (403 User mismatch), unless an owner of a module there or an admin", async () => {
    await refused(
      await publishRequest('moon', mallory, moduleZip(manifest('alice/evil', '1.0.0'))),
      403,
      /^User mismatch: The username in the module config file \(alice\) does not match the authenticated user's username \(mallory\)/,
    );
    // An organisation: the admin publishes acme/base and adds bob as its owner; bob may then publish acme/tools.
    expect((await send(await publishRequest('moon', t.adminToken, moduleZip(manifest('acme/base', '1.0.0'))))).statusCode).toBe(200);
    // (The owners API needs FormatPlugin.packageRef in index.ts; the row is what it would add.)
    const bobId = (await t.registry.db.selectFrom('users').select('id').where('login', '=', 'bob').executeTakeFirstOrThrow()).id;
    await t.registry.db
      .insertInto('package_owners')
      .values({ repo_id: t.registry.repos.get('moon')!.id, package: 'acme/base', user_id: bobId, created_at: Date.now() })
      .execute();
    expect((await send(await publishRequest('moon', bob, moduleZip(manifest('acme/tools', '1.0.0'))))).statusCode).toBe(200);
    await refused(await publishRequest('moon', mallory, moduleZip(manifest('acme/more', '1.0.0'))), 403, /User mismatch/);
    // A namespace he may use does not make bob an owner of alice's modules.
    await refused(await publishRequest('moon', bob, moduleZip(manifest('alice/json', '9.0.0'))), 403, /User mismatch/);
  });

  it('refuses missing, bad and under-scoped tokens, and a file sent before the token (401/403)', async () => {
    const zip = moduleZip(manifest('alice/auth', '1.0.0'));
    await refused(await publishRequest('moon', null, zip), 401, /needs a token/);
    await refused(await publishRequest('moon', 'larder_garbage', zip), 401, /./);
    await refused(await publishRequest('moon', 'larder_garbage', zip, { header: true }), 401, /./);
    await refused(await publishRequest('moon', readOnly, zip), 403, /lacks the "publish" scope/);
    await refused(
      {
        method: 'POST',
        url: '/moon/api/v0/publish',
        ...(await publishForm([
          ['file', zip],
          ['token', alice],
        ])),
      },
      401,
      /"token" field came after the file/,
    );
    await refused({ method: 'POST', url: '/moon/api/v0/publish', payload: { token: alice } }, 400, /multipart/);
  });

  it('refuses writes to a proxy or a group: 405 read-only', async () => {
    const zip = moduleZip(manifest('alice/ro', '1.0.0'));
    await refused(await publishRequest('up', alice, zip), 405, /read-only/);
    await refused(await publishRequest('all', alice, zip, { header: true }), 405, /read-only/);
    await refused({ method: 'POST', url: '/up/api/v0/yank', payload: { module: 'alice/json', version: '0.1.0' } }, 405, /read-only/);
  });

  const bad: Array<[string, Buffer, RegExp]> = [
    ['no manifest', moduleZip(null), /no moon\.mod\.json \(or moon\.mod\) at its root/],
    [
      'a wrapping directory',
      writeZip([{ path: 'json/moon.mod.json', data: Buffer.from('{"name":"alice/w","version":"1.0.0"}') }]),
      /wraps the module in a directory \(json\/moon\.mod\.json\)/,
    ],
    ['not a zip', Buffer.from('definitely not a zip file'), /not a valid zip/],
    [
      'zip slip',
      makeZip([
        { name: 'moon.mod.json', data: Buffer.from('{"name":"alice/s","version":"1.0.0"}') },
        { name: '../evil', data: Buffer.from('x') },
      ]),
      /\.\./,
    ],
    [
      'an absolute path',
      makeZip([
        { name: 'moon.mod.json', data: Buffer.from('{"name":"alice/s","version":"1.0.0"}') },
        { name: '/etc/x', data: Buffer.from('x') },
      ]),
      /absolute/,
    ],
    [
      'a symlink',
      makeZip([
        { name: 'moon.mod.json', data: Buffer.from('{"name":"alice/s","version":"1.0.0"}') },
        { name: 'l', data: Buffer.from('/etc/passwd'), mode: 0o120777 },
      ]),
      /symlink/,
    ],
    [
      'a duplicate entry',
      makeZip([
        { name: 'moon.mod.json', data: Buffer.from('{"name":"alice/s","version":"1.0.0"}') },
        { name: 'a', data: Buffer.from('1') },
        { name: 'a', data: Buffer.from('2') },
      ]),
      /more than once/,
    ],
    [
      'both manifests',
      writeZip([
        { path: 'moon.mod.json', data: Buffer.from('{"name":"alice/s","version":"1.0.0"}') },
        { path: 'moon.mod', data: Buffer.from('name = "alice/s"') },
      ]),
      /both moon\.mod\.json and moon\.mod/,
    ],
    ['invalid JSON', writeZip([{ path: 'moon.mod.json', data: Buffer.from('{"name": "alice/s",}') }]), /not valid JSON/],
    ['moon.mod syntax', writeZip([{ path: 'moon.mod', data: Buffer.from('name: "alice/s"') }]), /moon\.mod line 1: expected key = value/],
    ['no name', moduleZip({ version: '1.0.0' }), /has no "name"/],
    ['a name without user', moduleZip(manifest('json', '1.0.0')), /is not <user>\/<name>/],
    ['no version', moduleZip({ name: 'alice/s' }), /has no "version"/],
    ['a non-SemVer version', moduleZip(manifest('alice/s', '1.0')), /not a SemVer 2\.0 version/],
    ['a non-canonical version', moduleZip(manifest('alice/s', 'v1.0.0')), /not in canonical form; write "1\.0\.0"/],
    ['a /v1 suffix', moduleZip(manifest('alice/s/v1', '1.0.0')), /only \/v2 and above/],
    ['a /v2 suffix with major 3', moduleZip(manifest('alice/s/v2', '3.0.0')), /major version 2 .* has major 3/],
    ['a path dependency', moduleZip(manifest('alice/s', '1.0.0', { deps: { 'alice/json': { path: '../json' } } })), /path dependency/],
    [
      'an unknown dependency key',
      moduleZip(manifest('alice/s', '1.0.0', { deps: { 'alice/json': { version: '0.1.0', features: [] } } })),
      /unknown keys "features"/,
    ],
    ['a range as dependency', moduleZip(manifest('alice/s', '1.0.0', { deps: { 'alice/json': '^0.1.0' } })), /not a SemVer 2\.0 version/],
    [
      'a dependency that does not exist',
      moduleZip(manifest('alice/s', '1.0.0', { deps: { 'alice/json': '7.0.0' } })),
      /alice\/json@7\.0\.0 is not in moon or the other members of its groups \(up\)/,
    ],
    ['deps not an object', moduleZip(manifest('alice/s', '1.0.0', { deps: ['alice/json'] })), /"deps" must be an object/],
  ];
  for (const [what, zip, detail] of bad) {
    it(`refuses ${what} (4xx) and changes nothing`, async () => {
      const res = await refused(await publishRequest('moon', alice, zip), 400, detail);
      expect(res.statusCode).toBeLessThan(500);
    });
  }

  it('refuses a zip larger than limits.max_archive_size (413)', async () => {
    const small = await openTestApp({
      repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }],
      limits: { maxArchiveSize: 4096 },
    });
    try {
      const token = await tokenFor(small.registry, 'alice', { scopes: ['publish'] });
      // Incompressible bytes: hashes of a counter.
      const noise = Buffer.concat(Array.from({ length: 400 }, (_, i) => createHash('sha512').update(String(i)).digest()));
      const big = moduleZip(manifest('alice/big', '1.0.0'), [{ path: 'blob.bin', data: noise }]);
      const before = await registryState(small.registry, small.data);
      const res = await small.app.inject(await publishRequest('moon', token, big));
      expect(res.statusCode, res.body).toBe(413);
      expect(await registryState(small.registry, small.data)).toEqual(before);
    } finally {
      await small.stop();
    }
  });

  it('resolves a dependency through another member of a group (the proxy), and moonbitlang/core always', async () => {
    const zip = moduleZip(
      manifest('alice/uses-git', '1.0.0', { deps: { 'mizchi/git': { version: '0.2.0' }, 'moonbitlang/core': '0.1.0' } }),
    );
    const res = await send(await publishRequest('moon', alice, zip));
    expect(res.statusCode, res.body).toBe(200);
  });

  it('refuses a new user namespace that the proxy of a group serves (dependency confusion, 409)', async () => {
    const mizchi = await tokenFor(t.registry, 'mizchi', { scopes: ['publish'] });
    await refused(
      await publishRequest('moon', mizchi, moduleZip(manifest('mizchi/other', '1.0.0'))),
      409,
      /the user name mizchi exists upstream of up .* in group all; .*pick another user name/,
    );
  });
});

describe('yank and deprecate', () => {
  const yank = (token: string, body: unknown, url = '/moon/api/v0/yank') => ({
    method: 'POST' as const,
    url,
    payload: body as Record<string, unknown>,
    headers: { authorization: `Bearer ${token}` },
  });
  const yankedDoc = async () => {
    const doc = await t.registry.docs.get(t.registry.repos.get('moon')!.id, 'yanked.json');
    return doc ? (JSON.parse(doc.body.toString()) as { yankedPackages: unknown[]; count: number; generatedAt: string }) : null;
  };

  it('yanks with a reason into yanked.json, never touching index lines; unyank removes it', async () => {
    const line = await indexOf('alice/json');
    const res = await send(yank(alice, { module: 'alice/json', version: '0.1.0', reason: 'broken; use 0.2.0' }));
    expect(res.statusCode, res.body).toBe(200);
    const doc = await yankedDoc();
    expect(doc).toMatchObject({ yankedPackages: [{ name: 'alice/json', version: '0.1.0', reason: 'broken; use 0.2.0' }], count: 1 });
    expect(doc!.generatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(await indexOf('alice/json')).toBe(line);
    const row = await t.registry.db
      .withTables<{ moonbit_versions: { module: string; version: string; yanked: number; yanked_reason: string | null } }>()
      .selectFrom('moonbit_versions')
      .select(['yanked', 'yanked_reason'])
      .where('module', '=', 'alice/json')
      .where('version', '=', '0.1.0')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ yanked: 1, yanked_reason: 'broken; use 0.2.0' });
    // The document does not change when read again: generatedAt comes from the rows.
    expect(await yankedDoc()).toEqual(doc);
    expect((await send(yank(alice, { module: 'alice/json', version: '0.1.0', undo: true }))).statusCode).toBe(200);
    expect(await yankedDoc()).toMatchObject({ yankedPackages: [], count: 0 });
  });

  it('deprecates a whole module with the {"Deprecate": {…}} payload', async () => {
    const res = await send(
      yank(alice, { Deprecate: { module: 'alice/json', reason: 'use alice/json5', undo: false } }, '/moon/api/v0/deprecate'),
    );
    expect(res.statusCode, res.body).toBe(200);
    expect((await yankedDoc())!.count).toBe(3);
    expect(
      (await send(yank(alice, { Deprecate: { module: 'alice/json', reason: null, undo: true } }, '/moon/api/v0/deprecate'))).statusCode,
    ).toBe(200);
    expect((await yankedDoc())!.count).toBe(0);
  });

  it('refuses non-owners (403), unknown versions (404) and bad bodies (400), changing nothing', async () => {
    await refused(yank(mallory, { module: 'alice/json', version: '0.1.0', reason: 'mine now' }), 403, /not an owner of module alice\/json/);
    await refused(yank(alice, { module: 'alice/json', version: '9.9.9' }), 404, /alice\/json@9\.9\.9 is not in moon/);
    await refused(yank(alice, { module: 'alice/json' }), 400, /send JSON/);
    await refused(yank(readOnly, { module: 'alice/json', version: '0.1.0' }), 403, /lacks the "yank" scope/);
    await refused({ method: 'POST', url: '/moon/api/v0/yank', payload: { module: 'alice/json', version: '0.1.0' } }, 401, /needs a token/);
  });
});
