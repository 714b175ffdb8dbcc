import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from '../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { ownStagingName } from '../storage/staging.js';
import { collectGarbage } from './gc.js';

let larder: TestApp;
beforeAll(async () => {
  larder = await openTestApp({ repos: [{ name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' }] });
});
afterAll(async () => {
  await larder?.stop();
});

describe('larder gc', () => {
  it('removes only unreferenced blobs past the grace period, and stale temporary files', async () => {
    const { body } = await simplePublishBody('kept_crate', '1.0.0');
    expect(
      (
        await larder.app.inject({
          method: 'PUT',
          url: '/cargo/api/v1/crates/new',
          payload: body,
          headers: { authorization: larder.adminToken },
        })
      ).statusCode,
    ).toBe(200);
    // An orphan: committed to the store, never referenced (a crash between blob and database commit).
    const orphan = await larder.registry.blobs.stage(Readable.from([Buffer.from('orphan bytes')]));
    await orphan.commit();
    fs.writeFileSync(path.join(larder.data, 'blobs', 'tmp', 'left-over'), 'x');

    const young = await collectGarbage(larder.registry);
    expect(young.removed).toEqual([]);
    const later = Date.now() + 2 * 60 * 60 * 1000;
    const dry = await collectGarbage(larder.registry, { dryRun: true, now: later });
    expect(dry.removed).toEqual([orphan.sha256]);
    expect(await larder.registry.blobs.has(orphan.sha256)).toBe(true);
    const real = await collectGarbage(larder.registry, { now: later });
    expect(real).toMatchObject({ removed: [orphan.sha256], tmpRemoved: 1, kept: 1 });
    expect(await larder.registry.blobs.has(orphan.sha256)).toBe(false);
    const download = await larder.app.inject({ method: 'GET', url: '/cargo/api/v1/crates/kept_crate/1.0.0/download' });
    expect(download.statusCode).toBe(200);
  });

  it("with --grace 0 removes what dead processes staged, never a live process's staging", async () => {
    const tmp = path.join(larder.data, 'blobs', 'tmp');
    // A process killed mid-upload: same host, a pid that is not running.
    const dead = path.join(tmp, ownStagingName().replace(`.${process.pid}.`, '.2147483646.'));
    fs.mkdirSync(dead, { recursive: true });
    for (const n of ['a', 'b', 'c']) fs.writeFileSync(path.join(dead, n), 'half an upload');
    const live = await larder.registry.blobs.stage(Readable.from([Buffer.from('in flight')]));
    const r = await collectGarbage(larder.registry, { graceMs: 0 });
    expect(r.tmpRemoved).toBe(3);
    expect(fs.existsSync(dead)).toBe(false);
    await live.commit();
    expect(await larder.registry.blobs.has(live.sha256)).toBe(true);
  });
});
