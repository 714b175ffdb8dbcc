/**
 * Blobs in S3-compatible storage (a local s3rver): the blob store contract, and Larder serving
 * published archives from it — what several nodes on PostgreSQL share.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../src/registry/gc.js';
import { parseS3Url, S3BlobStore } from '../src/storage/s3-blobs.js';
import { simplePublishBody } from './support/cargo.js';
import { openTestApp } from './support/larder.js';
import { startS3, type TestS3 } from './support/s3.js';
import { tempDir } from './support/tmp.js';

let s3: TestS3;
const work = tempDir('larder-s3-test-');

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
  work.remove();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('S3 blob store', () => {
  it('stages with a hash, exposes a blob only after commit, streams ranges, lists and deletes', async () => {
    const store = await S3BlobStore.open(parseS3Url(await s3.newBucketUrl()), work.path);
    const bytes = Buffer.alloc(300_000, 7);
    const staged = await store.stage(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
    expect(staged.sha256).toBe(sha256(bytes));
    expect(await store.has(staged.sha256)).toBe(false);
    await staged.commit();
    expect(await store.has(staged.sha256)).toBe(true);
    const handle = (await store.open(staged.sha256))!;
    expect(handle.size).toBe(bytes.length);
    const chunks: Buffer[] = [];
    for await (const c of handle.stream({ start: 10, end: 19 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes.subarray(10, 20))).toBe(true);
    const listed: string[] = [];
    for await (const b of store.list()) listed.push(b.sha256);
    expect(listed).toEqual([staged.sha256]);
    await store.delete(staged.sha256);
    expect(await store.open(staged.sha256)).toBeNull();
    await expect(store.stage(Readable.from([Buffer.alloc(2048)]), { maxSize: 1024 })).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' });
  });

  it('serves a published crate from S3 byte for byte, and gc keeps what is referenced', async () => {
    const larder = await openTestApp({
      blobs: await s3.newBucketUrl(),
      repos: [{ name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' }],
    });
    try {
      const { body, crate } = await simplePublishBody('s3_crate', '1.0.0');
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
      const dl = await larder.app.inject({ method: 'GET', url: '/cargo/api/v1/crates/s3_crate/1.0.0/download' });
      expect(dl.statusCode).toBe(200);
      expect(dl.rawPayload.equals(crate)).toBe(true);
      const gc = await collectGarbage(larder.registry, { now: Date.now() + 2 * 60 * 60 * 1000 });
      expect(gc).toMatchObject({ removed: [], kept: 1 });
    } finally {
      await larder.stop();
    }
  });
});
