/**
 * Download counts: what counts as a download (a whole GET, a range from byte 0) and what does not (HEAD, 304, a
 * resumed range), counts written only when flushed and added to what is there, a group's downloads counted for
 * the member that served them, counts kept across a failed write, and written on close (SQLite and PostgreSQL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from '../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { openTestAppAt } from '../../test/support/larder-at.js';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { tempDir } from '../../test/support/tmp.js';
import { openDatabase, type DatabaseHandle } from '../storage/db.js';
import { DownloadCounter } from './downloads.js';
import type { Repo } from './repos.js';
import type { SourceParts } from './source-parts.js';

type Count = { repo_id: number; package: string; version: string; count: number };

async function counts(db: DatabaseHandle['db']): Promise<Count[]> {
  const rows = await db.selectFrom('package_downloads').selectAll().orderBy('repo_id').orderBy('package').orderBy('version').execute();
  return rows.map((r) => ({ ...r, repo_id: Number(r.repo_id), count: Number(r.count) }));
}

async function publish(t: TestApp, repo: string, name: string, vers: string): Promise<void> {
  const { body } = await simplePublishBody(name, vers);
  const res = await t.app.inject({
    method: 'PUT',
    url: `/${repo}/api/v1/crates/new`,
    headers: { authorization: t.adminToken },
    payload: body,
  });
  expect(res.statusCode).toBe(200);
}

describe('download counts over HTTP', () => {
  let t: TestApp;
  let crates: Repo;
  const url = (repo: string, name: string, vers: string) => `/${repo}/api/v1/crates/${name}/${vers}/download`;
  const get = (u: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url: u, headers });

  beforeAll(async () => {
    t = await openTestApp({
      repos: [
        { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' },
        { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['crates'] },
      ],
    });
    crates = t.registry.repos.get('crates')!;
    await publish(t, 'crates', 'Serde-Lite', '1.0.0');
    await publish(t, 'crates', 'Serde-Lite', '1.1.0');
  });
  afterAll(() => t.stop());

  it('counts whole GETs and ranges from byte 0, through a group for the member; nothing before the flush', async () => {
    const whole = await get(url('crates', 'Serde-Lite', '1.0.0'));
    expect(whole.statusCode).toBe(200);
    const size = whole.rawPayload.length;
    expect((await get(url('crates', 'serde-lite', '1.0.0'))).statusCode).toBe(200);
    expect((await get(url('all', 'Serde-Lite', '1.0.0'))).statusCode).toBe(200);
    expect((await get(url('crates', 'Serde-Lite', '1.0.0'), { range: 'bytes=0-9' })).statusCode).toBe(206);
    expect((await get(url('crates', 'Serde-Lite', '1.1.0'))).statusCode).toBe(200);
    // Not downloads: HEAD, a 304, the rest of a resumed download, an unsatisfiable range, a missing version.
    expect((await t.app.inject({ method: 'HEAD', url: url('crates', 'Serde-Lite', '1.0.0') })).statusCode).toBe(200);
    expect((await get(url('crates', 'Serde-Lite', '1.0.0'), { 'if-none-match': whole.headers.etag as string })).statusCode).toBe(304);
    expect((await get(url('crates', 'Serde-Lite', '1.0.0'), { range: 'bytes=10-' })).statusCode).toBe(206);
    expect((await get(url('crates', 'Serde-Lite', '1.0.0'), { range: `bytes=${size + 5}-` })).statusCode).toBe(416);
    expect((await get(url('crates', 'Serde-Lite', '9.9.9'))).statusCode).toBe(404);

    expect(await counts(t.registry.db)).toEqual([]);
    await t.registry.downloads.flush();
    expect(await counts(t.registry.db)).toEqual([
      { repo_id: crates.id, package: 'serde_lite', version: '1.0.0', count: 4 },
      { repo_id: crates.id, package: 'serde_lite', version: '1.1.0', count: 1 },
    ]);
    const metrics = (await get('/-/metrics')).body;
    expect(metrics).toContain('larder_downloads_total{repo="crates",format="cargo"} 5');
  });

  it('adds a later flush to what is recorded; a flush with nothing counted changes nothing', async () => {
    const before = await counts(t.registry.db);
    await t.registry.downloads.flush();
    expect(await counts(t.registry.db)).toEqual(before);
    expect((await get(url('all', 'serde_lite', '1.1.0'))).statusCode).toBe(200);
    expect((await get(url('crates', 'Serde-Lite', '1.1.0'))).statusCode).toBe(200);
    await t.registry.downloads.flush();
    const after = await counts(t.registry.db);
    expect(after.find((c) => c.version === '1.1.0')?.count).toBe(before.find((c) => c.version === '1.1.0')!.count + 2);
    expect(after.find((c) => c.version === '1.0.0')?.count).toBe(before.find((c) => c.version === '1.0.0')!.count);
  });
});

describe('download counts on close', () => {
  it('registry.close() writes what was counted since the last flush', async () => {
    const dir = tempDir('larder-downloads-');
    const data = path.join(dir.path, 'data');
    fs.mkdirSync(data);
    const repos = [{ name: 'crates', format: 'cargo' as const, kind: 'hosted' as const, visibility: 'public' as const }];
    try {
      const first = await openTestAppAt(data, { repos });
      await publish(first, 'crates', 'anyhow', '1.0.0');
      expect((await first.app.inject({ method: 'GET', url: '/crates/api/v1/crates/anyhow/1.0.0/download' })).statusCode).toBe(200);
      await first.stop();
      const second = await openTestAppAt(data, { repos });
      try {
        expect(await counts(second.registry.db)).toEqual([
          { repo_id: second.registry.repos.get('crates')!.id, package: 'anyhow', version: '1.0.0', count: 1 },
        ]);
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});

/** A stand-in format: keys `{pkg}@{version}` are downloads, `blob/…` keys are not. */
const parts = {
  packageOfDoc: () => null,
  packageOfArtifact: () => null,
  downloadOf: (key: string) => {
    const at = key.indexOf('@');
    return at > 0 ? { package: key.slice(0, at), version: key.slice(at + 1) } : null;
  },
  hosted: { artifact: async () => null, hasPackage: async () => false },
} satisfies SourceParts;

function counterSuite(name: string, open: () => Promise<DatabaseHandle>, done: () => Promise<void> = async () => {}) {
  describe(`DownloadCounter on ${name}`, () => {
    let h: DatabaseHandle;
    let a: Repo;
    let b: Repo;
    beforeAll(async () => {
      h = await open();
      const repo = async (n: string): Promise<Repo> => {
        const { id } = await h.db
          .insertInto('repos')
          .values({ name: n, format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 0 })
          .returning('id')
          .executeTakeFirstOrThrow();
        return { id, name: n, format: 'cargo', kind: 'hosted', visibility: 'public' };
      };
      a = await repo('a');
      b = await repo('b');
    });
    afterAll(async () => {
      await h.close();
      await done();
    });

    it('writes one row per (repo, package, version), adds to existing rows, and skips keys that are no download', async () => {
      const counter = new DownloadCounter({ db: h.db, dialect: h.dialect, partsOf: () => parts, intervalMs: 0 });
      for (let i = 0; i < 3; i++) counter.count(a, 'x@1.0.0');
      counter.count(a, 'x@2.0.0');
      counter.count(b, 'x@1.0.0');
      counter.count(a, 'blob/abc');
      await counter.flush();
      counter.count(a, 'x@1.0.0');
      // More distinct keys than one statement takes.
      for (let i = 0; i < 450; i++) counter.count(b, `many@${i}`);
      await counter.close();
      const rows = await counts(h.db);
      expect(rows.filter((r) => r.package === 'x')).toEqual([
        { repo_id: a.id, package: 'x', version: '1.0.0', count: 4 },
        { repo_id: a.id, package: 'x', version: '2.0.0', count: 1 },
        { repo_id: b.id, package: 'x', version: '1.0.0', count: 1 },
      ]);
      expect(rows.filter((r) => r.package === 'many')).toHaveLength(450);
    });

    it('keeps the counts of a failed write for the next flush', async () => {
      let broken = true;
      const errors: unknown[] = [];
      const counter = new DownloadCounter({
        db: h.db,
        dialect: h.dialect,
        partsOf: () => {
          if (broken) throw new Error('database gone');
          return parts;
        },
        onError: (err) => errors.push(err),
        intervalMs: 0,
      });
      counter.count(a, 'kept@1.0.0');
      counter.count(a, 'kept@1.0.0');
      await counter.flush();
      expect(errors).toHaveLength(1);
      expect((await counts(h.db)).filter((r) => r.package === 'kept')).toEqual([]);
      counter.count(a, 'kept@1.0.0');
      broken = false;
      await counter.close();
      expect((await counts(h.db)).filter((r) => r.package === 'kept')).toEqual([
        { repo_id: a.id, package: 'kept', version: '1.0.0', count: 3 },
      ]);
    });

    it('flushes on its timer', async () => {
      const counter = new DownloadCounter({ db: h.db, dialect: h.dialect, partsOf: () => parts, intervalMs: 20 });
      counter.count(b, 'timed@1.0.0');
      await expect.poll(async () => (await counts(h.db)).filter((r) => r.package === 'timed').length).toBe(1);
      await counter.close();
    });
  });
}

counterSuite('SQLite', () => openDatabase({ kind: 'sqlite', path: ':memory:' }));

let pg: TestPostgres | undefined;
counterSuite(
  'PostgreSQL',
  async () => {
    pg = await startPostgres();
    return openDatabase({ kind: 'postgres', url: await pg.newDatabase() });
  },
  async () => pg?.stop(),
);
