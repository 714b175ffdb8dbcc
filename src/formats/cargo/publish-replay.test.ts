/**
 * Replayed publishes (issue 13): `PUT /api/v1/crates/new` repeated with byte-identical content — a load balancer's
 * retry of a publish whose answer was lost — is answered as the success it was and changes nothing; other content for
 * a published version is refused as it always was; the same holds when the repeat races the first attempt into its
 * transaction (SQLite and PostgreSQL). Also: repeats of yank, unyank and owner changes change nothing.
 */
import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { countDelta, holdFirstStage, rowCounts } from '../../../test/support/replay.js';
import { registryState } from '../../../test/support/state.js';
import { expectCargoError, publishBody, simplePublishBody, storageState, tokenFor } from '../../../test/support/cargo.js';
import { indexPath } from './names.js';

const API = '/cargo/api/v1/crates';
const SUCCESS = { warnings: { invalid_categories: [], invalid_badges: [], other: [] } };
const EXISTS = (name: string, vers: string) =>
  new RegExp(`^crate \`${name}\` version ${vers.replace(/\./g, '\\.')} is already published; bump the version in Cargo\\.toml$`);

function put(t: TestApp, body: Buffer | Readable, token: string): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { authorization: token };
  // A stream goes chunked, without Content-Length, as a proxy may forward it.
  if (!Buffer.isBuffer(body)) Object.assign(headers, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
  return t.app.inject({ method: 'PUT', url: `${API}/new`, headers, payload: body });
}

const indexOf = (t: TestApp, name: string) => t.app.inject({ method: 'GET', url: `/cargo/index/${indexPath(name)}` });

describe('publish replays', () => {
  let t: TestApp;
  let alice: string;
  let first: Awaited<ReturnType<typeof simplePublishBody>>;

  beforeAll(async () => {
    t = await openTestApp();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank', 'owners'] });
    const dep = await simplePublishBody('replay-dep', '1.0.0');
    expect((await put(t, dep.body, alice)).statusCode).toBe(200);
    // Everything a publish stores: a dependency and features (index line), a README and description (metadata).
    first = await simplePublishBody('replayed', '1.0.0', {
      readme: '# replayed\n\nA crate published twice.\n',
      readme_file: 'README.md',
      keywords: ['retry'],
      features: { default: ['std'], std: [] },
      deps: [
        { optional: false, default_features: true, name: 'replay-dep', features: [], version_req: '^1', target: null, kind: 'normal' },
      ],
    });
    const res = await put(t, first.body, alice);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(SUCCESS);
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Sends a repeat and expects the success a publish answers, with every row, blob and document exactly as before. */
  async function replayed(body: Buffer | Readable, token = alice): Promise<void> {
    const before = await registryState(t.registry, t.data);
    const index = await indexOf(t, 'replayed');
    const res = await put(t, body, token);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(SUCCESS);
    expect(await registryState(t.registry, t.data)).toEqual(before);
    const after = await indexOf(t, 'replayed');
    expect([after.body, after.headers.etag]).toEqual([index.body, index.headers.etag]);
  }

  /** Sends a publish and expects its refusal, with everything exactly as before. */
  async function refused(body: Buffer | Readable, status: number, detail: RegExp, token = alice): Promise<void> {
    const before = await registryState(t.registry, t.data);
    expectCargoError(await put(t, body, token), status, detail);
    expect(await registryState(t.registry, t.data)).toEqual(before);
  }

  it('answers an identical repeat as the success it was, writing nothing (no row, audit entry, ETag, blob)', async () => {
    await replayed(first.body);
    await replayed(first.body);
    expect((await indexOf(t, 'replayed')).body.trim().split('\n')).toHaveLength(1);
  });

  it('answers a repeat streamed in chunks without Content-Length the same way', async () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < first.body.length; i += 100) chunks.push(first.body.subarray(i, i + 100));
    await replayed(Readable.from(chunks));
  });

  it('takes metadata JSON spelled differently (spacing, key order) that stores the same as the same publish', async () => {
    const { name, vers, ...rest } = first.meta;
    const reordered = JSON.stringify({ vers, ...rest, name }, null, 2);
    await replayed(publishBody(reordered, first.crate));
  });

  it('refuses other content for the version with the refusal it always had, changing nothing', async () => {
    const other = await simplePublishBody('replayed', '1.0.0', first.meta, { files: { 'src/extra.rs': '// one more file\n' } });
    await refused(other.body, 409, EXISTS('replayed', '1.0.0'));
    for (const change of [
      { description: 'another description' },
      { readme: '# replayed\n\nAnother README.\n' },
      { keywords: [] },
      { features: { default: [], std: [] } },
      { deps: [] },
      { rust_version: '1.70' },
    ]) {
      await refused(publishBody({ ...first.meta, ...change }, first.crate), 409, EXISTS('replayed', '1.0.0'));
    }
    await refused(
      publishBody({ ...first.meta, vers: '1.0.0+build' }, first.crate),
      409,
      /version 1\.0\.0 is already published \(build metadata does not make 1\.0\.0\+build a new version\)/,
    );
  });

  it('refuses an identical repeat whose upload was cut off, as a cut-off upload', async () => {
    // Streamed without Content-Length, so the frame is only found short once the .crate's bytes run out.
    await refused(Readable.from([first.body.subarray(0, first.body.length - 10)]), 400, /the publish body ended after \d+ bytes/);
  });

  it('answers a repeat after a yank with success and leaves the version yanked', async () => {
    const yank = await t.app.inject({ method: 'DELETE', url: `${API}/replayed/1.0.0/yank`, headers: { authorization: alice } });
    expect(yank.statusCode).toBe(200);
    await replayed(first.body);
    expect(JSON.parse((await indexOf(t, 'replayed')).body).yanked).toBe(true);
    const unyank = await t.app.inject({ method: 'PUT', url: `${API}/replayed/1.0.0/unyank`, headers: { authorization: alice } });
    expect(unyank.statusCode).toBe(200);
  });

  it('refuses a repeat by a token that could not publish the crate now', async () => {
    const readOnly = await tokenFor(t.registry, 'alice', { scopes: ['read', 'yank'] });
    await refused(first.body, 403, /lacks the "publish" scope/, readOnly);
    const otherPackages = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'other*' });
    await refused(first.body, 403, /limited to packages matching "other\*", not "replayed"/, otherPackages);
    const otherRepo = await tokenFor(t.registry, 'alice', { scopes: ['publish'], repoPattern: 'elsewhere' });
    await refused(first.body, 403, /limited to repositories matching "elsewhere"/, otherRepo);
    const bob = await tokenFor(t.registry, 'bob', { scopes: ['publish'] });
    await refused(first.body, 403, /you \(bob\) are not an owner of crate `replayed`/, bob);
    await refused(first.body, 401, /not valid/, 'larder_unknown-token');
  });

  it('changes nothing on repeats of yank, unyank, owner add and owner remove', async () => {
    await tokenFor(t.registry, 'carol', { scopes: ['read'] });
    const send = (method: 'PUT' | 'DELETE', url: string, payload?: object) =>
      t.app.inject({ method, url: `${API}/replayed/${url}`, headers: { authorization: alice }, ...(payload ? { payload } : {}) });
    const steps: Array<[string, () => Promise<LightMyRequestResponse>]> = [
      ['yank', () => send('DELETE', '1.0.0/yank')],
      ['unyank', () => send('PUT', '1.0.0/unyank')],
      ['owner add', () => send('PUT', 'owners', { users: ['carol'] })],
      ['owner remove', () => send('DELETE', 'owners', { users: ['carol'] })],
    ];
    for (const [what, step] of steps) {
      const once = await step();
      expect(once.statusCode, `${what}: ${once.body}`).toBe(200);
      const after = await registryState(t.registry, t.data);
      const again = await step();
      expect([again.statusCode, again.body], what).toEqual([once.statusCode, once.body]);
      expect(await registryState(t.registry, t.data), `${what} repeated changed the registry`).toEqual(after);
    }
  });
});

/** Races of two publishes of one version into their transactions, and repeated owner changes, on each database. */
function databaseSuite(open: () => Promise<TestApp>): void {
  let t: TestApp;
  let alice: string;
  /** What one publish of a new crate adds, table by table. */
  let onePublish: Record<string, number>;

  beforeAll(async () => {
    t = await open();
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
    const before = await rowCounts(t.registry);
    expect((await put(t, (await simplePublishBody('solo', '1.0.0')).body, alice)).statusCode).toBe(200);
    onePublish = countDelta(before, await rowCounts(t.registry));
    expect(onePublish).toMatchObject({ cargo_crates: 1, cargo_versions: 1, blobs: 1, audit_log: 1, package_owners: 1 });
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Checks the crate holds exactly one line (of the given description), that no staged file is left, and the row counts moved as one publish moves them. */
  async function leftAsOnePublish(name: string, before: Record<string, number>, description = `the ${name} crate`): Promise<void> {
    expect(countDelta(before, await rowCounts(t.registry))).toEqual(onePublish);
    const index = await indexOf(t, name);
    expect(index.body.trim().split('\n')).toHaveLength(1);
    const meta = await t.registry.db
      .selectFrom('search_entries')
      .select('description')
      .where('package', '=', name)
      .executeTakeFirstOrThrow();
    expect(meta.description).toBe(description);
    expect((await storageState(t.registry, t.data)).tmpFiles).toEqual([]);
  }

  it('answers two identical publishes sent at once with success, storing one version', async () => {
    const { body } = await simplePublishBody('twin', '1.0.0');
    const before = await rowCounts(t.registry);
    const results = await Promise.all([put(t, body, alice), put(t, body, alice)]);
    expect(results.map((r) => [r.statusCode, r.json()])).toEqual([
      [200, SUCCESS],
      [200, SUCCESS],
    ]);
    await leftAsOnePublish('twin', before);
  });

  it('answers a repeat that meets the first attempt committing inside its transaction with success', async () => {
    const { body } = await simplePublishBody('raced', '1.0.0');
    const before = await rowCounts(t.registry);
    const held = holdFirstStage(t.registry);
    try {
      // The repeat passes its checks (no such version yet) and waits; the first attempt commits meanwhile.
      const repeat = put(t, body, alice);
      await held.reached;
      const firstAttempt = await put(t, body, alice);
      expect(firstAttempt.statusCode, firstAttempt.body).toBe(200);
      held.release();
      const res = await repeat;
      expect([res.statusCode, res.json()]).toEqual([200, SUCCESS]);
    } finally {
      held.release();
      held.restore();
    }
    await leftAsOnePublish('raced', before);
  });

  it('refuses a different publish that meets the first one inside its transaction, as before', async () => {
    const winner = await simplePublishBody('contested', '1.0.0');
    const loser = await simplePublishBody('contested', '1.0.0', { description: 'the other one' });
    const before = await rowCounts(t.registry);
    const held = holdFirstStage(t.registry);
    try {
      const late = put(t, loser.body, alice);
      await held.reached;
      expect((await put(t, winner.body, alice)).statusCode).toBe(200);
      held.release();
      expectCargoError(
        await late,
        409,
        /^crate `contested` version 1\.0\.0 was published at the same moment by another request; bump the version in Cargo\.toml$/,
      );
    } finally {
      held.release();
      held.restore();
    }
    await leftAsOnePublish('contested', before);
  });

  it('lets one of two different publishes sent at once in and refuses the other', async () => {
    const bodies = await Promise.all(['one', 'two'].map((d) => simplePublishBody('split', '1.0.0', { description: d })));
    const before = await rowCounts(t.registry);
    const results = await Promise.all(bodies.map(({ body }) => put(t, body, alice)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expectCargoError(
      results.find((r) => r.statusCode === 409)!,
      409,
      /already published|published at the same moment/,
    );
    await leftAsOnePublish('split', before, results[0].statusCode === 200 ? 'one' : 'two');
  });

  it('writes nothing (no audit entry) for a repeated owner add or remove', async () => {
    const owners = await tokenFor(t.registry, 'alice', { scopes: ['owners'] });
    await t.registry.auth.createUser('dave');
    for (const method of ['PUT', 'DELETE'] as const) {
      const change = () =>
        t.app.inject({ method, url: `${API}/solo/owners`, headers: { authorization: owners }, payload: { users: ['dave'] } });
      const before = await rowCounts(t.registry);
      expect((await change()).statusCode).toBe(200);
      expect(countDelta(before, await rowCounts(t.registry))).toEqual({ package_owners: method === 'PUT' ? 1 : -1, audit_log: 1 });
      const once = await rowCounts(t.registry);
      expect((await change()).statusCode).toBe(200);
      expect(countDelta(once, await rowCounts(t.registry))).toEqual({});
    }
  });
}

describe('publish replays on SQLite', () => {
  databaseSuite(() => openTestApp());
});

describe('publish replays on PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  databaseSuite(async () => openTestApp({ database: await pg.newDatabase() }));
});
