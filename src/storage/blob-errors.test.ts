/**
 * The blob stores' failure mapping: a store that cannot be reached or used is BLOB_STORE_UNAVAILABLE (503,
 * Retry-After) with a message naming the store and the cause; a missing object stays "not found"; a failing
 * source stays the source's failure; a black-holed S3 endpoint fails within the configured timeouts.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LarderError } from '../core/errors.js';
import { freePort } from '../../test/support/net.js';
import { startS3, type TestS3 } from '../../test/support/s3.js';
import { snapshotFiles, tempDir } from '../../test/support/tmp.js';
import { blobStoreUnavailable, fsProblem, isS3NotFound, s3Problem } from './blob-errors.js';
import { FsBlobStore, stageToFile } from './fs-blobs.js';
import { parseS3Url, S3BlobStore } from './s3-blobs.js';

const dirs: Array<{ remove(): void }> = [];
const work = () => {
  const d = tempDir('larder-blob-errors-');
  dirs.push(d);
  return d.path;
};
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** The LarderError `p` rejects with (fails the test when it resolves or rejects with something else). */
async function rejection(p: Promise<unknown>): Promise<LarderError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LarderError);
  return err as LarderError;
}

function expectUnavailable(err: LarderError, message: RegExp): void {
  expect(err.code).toBe('BLOB_STORE_UNAVAILABLE');
  expect(err.status).toBe(503);
  expect(err.headers['retry-after']).toBe('5');
  expect(err.message).toMatch(message);
}

const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

describe('messages', () => {
  it('name codes and statuses, never SDK messages', () => {
    const sdk = Object.assign(new Error('Access Denied for https://bucket?X-Amz-Signature=secret'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    expect(s3Problem(sdk)).toBe('answered AccessDenied (HTTP 403)');
    expect(s3Problem(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))).toBe(
      'cannot be reached (ECONNREFUSED)',
    );
    expect(s3Problem(Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })]), {}))).toBe(
      'cannot be reached (EHOSTUNREACH)',
    );
    expect(s3Problem(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }))).toBe('did not answer in time (timed out)');
    expect(s3Problem(Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }))).toMatch(
      /no credentials: set AWS_ACCESS_KEY_ID/,
    );
    expect(fsProblem(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe(
      'cannot be used (ENOSPC: no space left on device)',
    );
    const err = blobStoreUnavailable('the blob store x', 'cannot be used (EIO: input/output error)', 'write', sdk);
    expect(err.message).toBe('the blob store x cannot be used (EIO: input/output error); nothing was stored; retry later');
    expect(err.cause).toBe(sdk);
  });

  it('tell a missing object from a missing bucket', () => {
    expect(isS3NotFound({ name: 'NotFound', $metadata: { httpStatusCode: 404 } })).toBe(true);
    expect(isS3NotFound({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })).toBe(true);
    expect(isS3NotFound({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } })).toBe(false);
    expect(isS3NotFound({ code: 'ECONNREFUSED' })).toBe(false);
  });
});

describe('filesystem store', () => {
  it('answers "not found" for a missing blob while its directory is there, and passes its check', async () => {
    const store = new FsBlobStore(path.join(work(), 'blobs'));
    expect(await store.open('a'.repeat(64))).toBeNull();
    expect(await store.has('a'.repeat(64))).toBe(false);
    await store.check();
    await store.close();
  });

  it('a blob directory replaced by a file: staging, reads and the check are 503, and the source is not left waiting', async () => {
    const root = path.join(work(), 'blobs');
    const store = new FsBlobStore(root);
    const staged = await store.stage(Readable.from([bytes(100)]));
    await staged.commit();
    fs.rmSync(root, { recursive: true });
    fs.writeFileSync(root, 'not a directory');
    const source = new PassThrough();
    const err = await rejection(store.stage(source));
    expectUnavailable(
      err,
      /^the blob store \(the blobs directory in the data directory\) cannot be used \(ENOTDIR: .*\); nothing was stored/,
    );
    expect(source.destroyed).toBe(true);
    expectUnavailable(await rejection(store.open(staged.sha256)), /ENOTDIR.*the file cannot be sent now; retry later$/);
    expectUnavailable(await rejection(store.has(staged.sha256)), /ENOTDIR/);
    expectUnavailable(await rejection(store.check()), /ENOTDIR/);
    await store.close();
  });

  it('a removed object directory is an outage, not a store that lost everything', async () => {
    const root = path.join(work(), 'blobs');
    const store = new FsBlobStore(root);
    fs.rmSync(path.join(root, 'sha256'), { recursive: true });
    expectUnavailable(await rejection(store.open('b'.repeat(64))), /cannot be used \(ENOENT: the directory is missing\)/);
    expectUnavailable(await rejection(store.check()), /ENOENT/);
    await store.close();
  });

  it('a commit that cannot move the blob in place is 503, and discard leaves no staging file', async () => {
    const root = path.join(work(), 'blobs');
    const store = new FsBlobStore(root);
    const before = snapshotFiles(root);
    fs.rmSync(path.join(root, 'sha256'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sha256'), '');
    const staged = await store.stage(Readable.from([bytes(2048, 2)]));
    expectUnavailable(await rejection(staged.commit()), /ENOTDIR.*nothing was stored; retry later$/);
    await staged.discard();
    fs.rmSync(path.join(root, 'sha256'));
    fs.mkdirSync(path.join(root, 'sha256'));
    expect(snapshotFiles(root)).toEqual(before);
    await store.close();
  });

  it('stageToFile hands failures of the file (not of the source) to writeFailed', async () => {
    const mapped: unknown[] = [];
    const writeFailed = (err: unknown) => {
      mapped.push(err);
      return new LarderError('BLOB_STORE_UNAVAILABLE', 'mapped');
    };
    const missingDir = path.join(work(), 'no-such-dir');
    const err = await rejection(stageToFile(missingDir, Readable.from([bytes(10)]), undefined, writeFailed));
    expect(err.message).toBe('mapped');
    expect(mapped).toMatchObject([{ code: 'ENOENT', syscall: 'open' }]);
    const broken = new Readable({
      read() {
        this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      },
    });
    await expect(stageToFile(work(), broken, undefined, writeFailed)).rejects.toThrow('aborted');
    expect(mapped).toHaveLength(1);
    // Bytes already in memory take the same way out.
    expect((await rejection(stageToFile(missingDir, bytes(10), undefined, writeFailed))).message).toBe('mapped');
    expect(mapped[1]).toMatchObject({ code: 'ENOENT', syscall: 'open' });
  });

  it("a failing source stays the source's failure", async () => {
    const store = new FsBlobStore(path.join(work(), 'blobs'));
    const broken = new Readable({
      read() {
        this.destroy(new Error('the client went away'));
      },
    });
    const err = await store.stage(broken).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(LarderError);
    expect((err as Error).message).toBe('the client went away');
    expect((await rejection(store.stage(Readable.from([bytes(10)]), { maxSize: 5 }))).code).toBe('BODY_TOO_LARGE');
    expect((await rejection(store.stage(bytes(10), { maxSize: 5 }))).code).toBe('BODY_TOO_LARGE');
    await store.close();
  });
});

describe('S3 store', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('an endpoint that refuses connections: every operation is 503 naming bucket, prefix and endpoint, never credentials or the query', async () => {
    const port = await freePort();
    const url = `s3://bucket-x/some/prefix?endpoint=http://user:pw@127.0.0.1:${port}/?token=secret&region=us-east-1&path_style=true`;
    const store = await S3BlobStore.open(parseS3Url(url), path.join(work(), 'tmp'));
    const where = new RegExp(
      `^the blob store s3://bucket-x/some/prefix at http://127\\.0\\.0\\.1:${port} cannot be reached \\(ECONNREFUSED\\); `,
    );
    const staged = await store.stage(Readable.from([bytes(300)]));
    const err = await rejection(staged.commit());
    expectUnavailable(err, where);
    expect(err.message).toMatch(/nothing was stored; retry later$/);
    expect(err.message).not.toMatch(/pw|secret|token|endpoint=|S3RVER/);
    await staged.discard();
    expect(snapshotFiles(path.join(work(), 'tmp'))).toEqual({});
    expectUnavailable(await rejection(store.open(staged.sha256)), where);
    expectUnavailable(await rejection(store.has(staged.sha256)), where);
    expectUnavailable(await rejection(store.delete(staged.sha256)), where);
    expectUnavailable(await rejection(store.check()), where);
    expectUnavailable(
      await rejection(
        (async () => {
          for await (const b of store.list()) void b;
        })(),
      ),
      where,
    );
    await store.close();
  });

  it('a missing object is "not found"; a missing bucket fails the check', async () => {
    const store = await S3BlobStore.open(parseS3Url(await s3.newBucketUrl()), path.join(work(), 'tmp'));
    expect(await store.open('c'.repeat(64))).toBeNull();
    expect(await store.has('c'.repeat(64))).toBe(false);
    await store.check();
    await store.close();
    const missing = await S3BlobStore.open(
      parseS3Url(`s3://no-such-bucket?endpoint=${s3.endpoint}&path_style=true`),
      path.join(work(), 'tmp'),
    );
    expectUnavailable(
      await rejection(missing.check()),
      /has no bucket "no-such-bucket"; publishes and downloads answer 503 until it is back$/,
    );
    await missing.close();
  });

  it('a halted and restarted s3rver: 503 while it is down, the same commit succeeds once it is back', async () => {
    const store = await S3BlobStore.open(parseS3Url(await s3.newBucketUrl()), path.join(work(), 'tmp'));
    const staged = await store.stage(Readable.from([bytes(5000, 3)]));
    await s3.halt();
    try {
      expectUnavailable(await rejection(staged.commit()), /cannot be reached \(ECONNREFUSED\)/);
      expectUnavailable(await rejection(store.check()), /ECONNREFUSED/);
    } finally {
      await s3.restart();
    }
    await store.check();
    await staged.commit();
    expect((await store.open(staged.sha256))?.size).toBe(5000);
    await store.close();
  });

  describe('an endpoint that accepts and then stalls', () => {
    let server: http.Server;
    let endpoint: string;
    const puts: string[] = [];
    beforeAll(async () => {
      // HEAD of an object: 404 when the key ends in 0, 403 (no s3:ListBucket) when it ends in 1, else never answered.
      // PUT: the body is read; a key ending in 1 is stored (200), any other is never answered.
      server = http.createServer((req, res) => {
        const key = (req.url ?? '').split('?')[0]!;
        if (req.method === 'HEAD' && key.endsWith('0')) return void res.writeHead(404).end();
        if (req.method === 'HEAD' && key.endsWith('1')) return void res.writeHead(403).end();
        if (req.method === 'PUT') {
          req.resume();
          req.on('end', () => {
            puts.push(key);
            if (key.endsWith('1')) res.writeHead(200, { etag: '"x"' }).end();
          });
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const open = (tmp: string) =>
      S3BlobStore.open(parseS3Url(`s3://b?endpoint=${endpoint}&path_style=true`), tmp, {
        connectMs: 500,
        idleMs: 1000,
        requestMs: 1500,
        maxAttempts: 2,
      });

    /** Stages bytes until the digest ends in `last` (the fake endpoint answers by the key's last character). */
    async function stageEndingIn(store: S3BlobStore, last: string) {
      for (let i = 0; ; i++) {
        const staged = await store.stage(Readable.from([Buffer.from(`blob ${i}`)]));
        if (staged.sha256.endsWith(last)) return staged;
        await staged.discard();
      }
    }

    it('a HEAD that is never answered fails within the request budget', async () => {
      const store = await open(path.join(work(), 'tmp'));
      const staged = await stageEndingIn(store, 'a');
      expectUnavailable(await rejection(store.has(staged.sha256)), /did not answer in time \(timed out\); the file cannot be sent now/);
      expectUnavailable(await rejection(store.check()), /did not answer in time/);
      await staged.discard();
      await store.close();
    });

    it('an upload that is never answered fails on the idle timeout: the transaction waiting on it is not held for minutes', async () => {
      const store = await open(path.join(work(), 'tmp'));
      const staged = await stageEndingIn(store, '0');
      expectUnavailable(await rejection(staged.commit()), /did not answer in time \(timed out\); nothing was stored/);
      expect(puts).toContain(`/b/sha256/${staged.sha256.slice(0, 2)}/${staged.sha256}`);
      await staged.discard();
      await store.close();
    });

    it('a HEAD refused with 403 (no s3:ListBucket) lets the PUT decide', async () => {
      const store = await open(path.join(work(), 'tmp'));
      const staged = await stageEndingIn(store, '1');
      await staged.commit();
      expect(puts).toContain(`/b/sha256/${staged.sha256.slice(0, 2)}/${staged.sha256}`);
      await store.close();
    });
  });
});
