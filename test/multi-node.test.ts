/**
 * Two Larder nodes on one PostgreSQL database: a publish or yank on one is served by the
 * other, even where the other had already cached the file (or its absence).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

let pg: TestPostgres;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  pg = await startPostgres();
  const url = await pg.newDatabase();
  a = await openTestApp({ database: url });
  b = await openTestApp({ database: url });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await pg?.stop();
});

/** Polls node `app` until `path` answers with `status` (notifications are asynchronous). */
async function eventually(app: TestApp, path: string, check: (res: { statusCode: number; body: string }) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await app.app.inject({ method: 'GET', url: path });
    if (check(res) || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('several nodes on PostgreSQL', () => {
  it('serves on node B what node A published, although B had cached the 404', async () => {
    const path = '/cargo/index/sh/ar/shared_crate';
    expect((await b.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);
    const { body } = await simplePublishBody('shared_crate', '1.0.0');
    const published = await a.app.inject({
      method: 'PUT',
      url: '/cargo/api/v1/crates/new',
      payload: body,
      headers: { authorization: a.adminToken },
    });
    expect(published.statusCode).toBe(200);
    const onA = await a.app.inject({ method: 'GET', url: path });
    const onB = await eventually(b, path, (r) => r.statusCode === 200);
    expect(onB.statusCode).toBe(200);
    expect(onB.body).toBe(onA.body);
    expect(JSON.parse(onB.body).vers).toBe('1.0.0');
  });

  it('serves on node B a yank made on node A', async () => {
    const path = '/cargo/index/sh/ar/shared_crate';
    const before = await b.app.inject({ method: 'GET', url: path });
    expect(JSON.parse(before.body).yanked).toBe(false);
    const yank = await a.app.inject({
      method: 'DELETE',
      url: '/cargo/api/v1/crates/shared_crate/1.0.0/yank',
      headers: { authorization: a.adminToken },
    });
    expect(yank.body).toBe('{"ok":true}');
    const after = await eventually(b, path, (r) => r.body.includes('"yanked":true'));
    expect(JSON.parse(after.body).yanked).toBe(true);
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });
});
