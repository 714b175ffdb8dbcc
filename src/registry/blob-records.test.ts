import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { storeBlob } from './blob-records.js';
import { collectGarbage } from './gc.js';
import { inTransaction } from './tx.js';

let larder: TestApp;
beforeAll(async () => {
  larder = await openTestApp({ repos: [{ name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' }] });
});
afterAll(async () => {
  await larder?.stop();
});

const row = (sha256: string) => larder.registry.db.selectFrom('blobs').selectAll().where('sha256', '=', sha256).executeTakeFirst();

describe('storeBlob', () => {
  it('stores and records a blob when the transaction commits, idempotently; gc keeps it', async () => {
    const bytes = Buffer.from('kept by storeBlob');
    for (let i = 0; i < 2; i++) {
      const staged = await larder.registry.blobs.stage(Readable.from([bytes]));
      await inTransaction(larder.registry, async (uow) => {
        await storeBlob(uow, staged);
        // Not at its address until the transaction commits.
        if (i === 0) expect(await larder.registry.blobs.has(staged.sha256)).toBe(false);
      });
      expect(await larder.registry.blobs.has(staged.sha256)).toBe(true);
      expect(await row(staged.sha256)).toMatchObject({ sha256: staged.sha256, size: bytes.length });
    }
    const later = Date.now() + 2 * 60 * 60 * 1000;
    const staged = await larder.registry.blobs.stage(Readable.from([bytes]));
    await staged.discard();
    expect((await collectGarbage(larder.registry, { now: later })).removed).not.toContain(staged.sha256);
  });

  it('neither stores nor records the blob when the transaction fails', async () => {
    const staged = await larder.registry.blobs.stage(Readable.from([Buffer.from('never stored')]));
    await expect(
      inTransaction(larder.registry, async (uow) => {
        await storeBlob(uow, staged);
        throw new Error('validation failed after the blob was staged');
      }),
    ).rejects.toThrow('validation failed');
    await staged.discard();
    expect(await larder.registry.blobs.has(staged.sha256)).toBe(false);
    expect(await row(staged.sha256)).toBeUndefined();
  });
});
