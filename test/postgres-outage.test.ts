/**
 * Two nodes on one PostgreSQL database while the database goes away and comes back: cached
 * index files keep being served, the nodes say they are not ready, nothing crashes, and once
 * LISTEN is back every cache is current again (notifications sent meanwhile are lost).
 */
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPOS } from '../src/core/config/types.js';
import { simplePublishBody } from './support/cargo.js';
import { fakeCratesIo } from './support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

let server: TestPostgres;
let url: string;
let a: TestApp;
let b: TestApp;
let upstream: FakeUpstream;

beforeAll(async () => {
  server = await startPostgres();
  url = await server.newDatabase();
  upstream = await startFakeUpstream();
  await fakeCratesIo(upstream).add({ name: 'serde', vers: '1.0.0' });
  // A proxy with a short TTL: its copies need revalidation soon, also while the database is away.
  const repos = [
    ...DEFAULT_REPOS,
    { name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${upstream.url}/`, ttl: 200 },
  ];
  const opts = { database: url, repos: repos as typeof DEFAULT_REPOS, outbound: { allowPrivate: ['127.0.0.1'], retries: 0 } };
  a = await openTestApp(opts);
  b = await openTestApp(opts);
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await upstream?.stop();
  await server?.stop();
});

/** Runs SQL as the superuser on the server's maintenance database. */
async function asAdmin(text: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const dbName = () => new URL(url).pathname.slice(1);

/** The database refuses new connections and every open one is cut: an outage, as the nodes see it. */
async function takeDatabaseAway(): Promise<void> {
  await asAdmin(`alter database ${dbName()} allow_connections false`);
  await asAdmin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${dbName()}'`);
}

async function bringDatabaseBack(): Promise<void> {
  await asAdmin(`alter database ${dbName()} allow_connections true`);
}

/** The database back, and both nodes listening again (what the next test starts from). */
async function restoreDatabase(): Promise<void> {
  await bringDatabaseBack();
  for (const node of [a, b])
    await until(
      'a node to be ready again',
      () => get(node, '/-/readyz'),
      (r) => r.statusCode === 200,
    );
}

/** Resolves once `node` has heard (through NOTIFY) that a document changed: what it caches after that stays current. */
function announced(node: TestApp, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node never heard that ${path} changed (is it listening?)`)), 15_000);
    const stop = node.registry.docs.subscribe({
      changed: (_repo, p) => {
        if (p !== path) return;
        stop();
        clearTimeout(timer);
        resolve();
      },
    });
  });
}

async function publish(app: TestApp, name: string, vers: string) {
  const { body } = await simplePublishBody(name, vers);
  return app.app.inject({ method: 'PUT', url: '/cargo/api/v1/crates/new', payload: body, headers: { authorization: app.adminToken } });
}

const get = (app: TestApp, path: string) => app.app.inject({ method: 'GET', url: path });

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a PostgreSQL outage', () => {
  it('keeps cached index files served, reports not ready, refuses the rest with 503, and loses nothing', async () => {
    const heard = announced(b, 'ke/pt/kept_crate');
    expect((await publish(a, 'kept_crate', '1.0.0')).statusCode).toBe(200);
    await heard;
    const cached = await get(b, '/cargo/index/ke/pt/kept_crate');
    expect(cached.statusCode).toBe(200);
    expect((await get(b, '/-/readyz')).json()).toEqual({ status: 'ready', database: 'postgres', notifications: 'listening', blobs: 'ok' });

    await takeDatabaseAway();
    try {
      // Not ready as soon as a query fails; the LISTEN connection notices its loss a moment later (on a loaded
      // machine the first 503 can come before it has).
      const ready = await until(
        'node B to report not ready, its notifications reconnecting',
        () => get(b, '/-/readyz'),
        (r) => r.statusCode === 503 && (r.json() as { notifications?: string }).notifications === 'reconnecting',
      );
      expect(ready.json()).toMatchObject({ status: 'unavailable', notifications: 'reconnecting' });
      // Cached: the same bytes, as before the outage.
      const during = await get(b, '/cargo/index/ke/pt/kept_crate');
      expect(during.statusCode).toBe(200);
      expect(during.body).toBe(cached.body);
      expect(during.headers.etag).toBe(cached.headers.etag);
      // Not cached: cargo's error shape, a retryable status, and what is wrong.
      const missing = await get(b, '/cargo/index/ne/ve/never_read');
      expect(missing.statusCode).toBe(503);
      expect(missing.headers['retry-after']).toBe('5');
      expect(missing.json().errors[0].detail).toMatch(/database cannot be reached right now .*retry in a few seconds/);
      // A publish cannot be taken now; it says so and is not half-stored.
      const refused = await publish(a, 'outage_crate', '1.0.0');
      expect(refused.statusCode).toBe(503);
      expect(refused.json().errors[0].detail).toMatch(/database cannot be reached/);
    } finally {
      await restoreDatabase();
    }
    expect((await get(a, '/cargo/index/ou/ta/outage_crate')).statusCode).toBe(404);
    expect((await get(a, '/cargo/api/v1/crates?q=outage_crate')).json().crates).toEqual([]);
  });

  it('serves a proxy copy past its TTL as stale while the database is away (the upstream still answers)', async () => {
    const held = await get(b, '/crates/index/se/rd/serde');
    expect(held.statusCode).toBe(200);
    await takeDatabaseAway();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const during = await get(b, '/crates/index/se/rd/serde');
      expect(during.statusCode).toBe(200);
      expect(during.body).toBe(held.body);
      expect(during.headers['x-larder-stale']).toBeDefined();
    } finally {
      await restoreDatabase();
    }
  });

  it('drops caches once LISTEN is back, so changes made while the node was not listening are served', async () => {
    const heard = announced(b, 'mo/vi/moving_crate');
    expect((await publish(a, 'moving_crate', '1.0.0')).statusCode).toBe(200);
    await heard;
    expect((await get(b, '/cargo/index/mo/vi/moving_crate')).statusCode).toBe(200);
    await takeDatabaseAway();
    await until(
      'node B to lose its notification connection',
      () => get(b, '/-/readyz'),
      (r) => r.statusCode === 503,
    );
    await bringDatabaseBack();
    // Right as the database is back, and before B listens again: B reads (and may cache) two
    // files, then A changes both. A's announcements can miss B.
    expect((await get(b, '/cargo/index/la/te/late_crate')).statusCode).toBe(404);
    expect((await get(b, '/cargo/index/mo/vi/moving_crate')).statusCode).toBe(200);
    expect((await publish(a, 'late_crate', '1.0.0')).statusCode).toBe(200);
    expect((await publish(a, 'moving_crate', '2.0.0')).statusCode).toBe(200);
    const late = await until(
      'node B to serve the crate published while it was not listening',
      () => get(b, '/cargo/index/la/te/late_crate'),
      (r) => r.statusCode === 200,
    );
    expect(JSON.parse(late.body).vers).toBe('1.0.0');
    const moved = await until(
      'node B to serve the new version',
      () => get(b, '/cargo/index/mo/vi/moving_crate'),
      (r) => r.body.includes('"2.0.0"'),
    );
    expect(moved.body.trim().split('\n')).toHaveLength(2);
  });

  it('answers a transaction whose connection is cut with DATABASE_UNAVAILABLE, and the process goes on', async () => {
    // pg emits 'error' on a client a transaction holds; without a listener the process would crash here.
    const held = a.registry.db
      .transaction()
      .execute((trx) => sql`select pg_sleep(30)`.execute(trx))
      .catch((err: unknown) => err);
    await until(
      'the transaction to be running',
      async () => {
        const admin = new URL(url);
        admin.pathname = '/postgres';
        const client = new pg.Client({ connectionString: admin.toString() });
        await client.connect();
        const r = await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where query like 'select pg_sleep(30)%'`);
        await client.end();
        return r.rowCount ?? 0;
      },
      (n) => n > 0,
    );
    const err = (await held) as { code?: string; status?: number };
    expect(err.code).toBe('DATABASE_UNAVAILABLE');
    expect(err.status).toBe(503);
    // The next request connects afresh.
    expect((await publish(a, 'after_cut', '1.0.0')).statusCode).toBe(200);
  });
});
