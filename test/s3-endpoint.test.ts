/**
 * Larder's S3-compatible endpoint (protocols/brioche.md §3.3, §7 item 5) with @aws-sdk/client-s3 as
 * the independent client: path-style, custom endpoint, SigV4 with access keys from
 * `larder token create --s3`. The bucket is a Brioche repo; until the Brioche cache's own putObject
 * exists, a stand-in object store (below) writes the same rows the real one reads.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { briocheDb } from '../src/formats/brioche/store.js';
import { createTokenWithS3Key, type S3AccessKey } from '../src/registry/s3-keys.js';
import { larder as larderCli } from './support/cli.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { registryState } from './support/state.js';
import { tempDir } from './support/tmp.js';

const MAX = 64 * 1024;
let larder: TestApp;
let endpoint: string;
let writer: S3AccessKey & { token: string; tokenId: number };

const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const h = (n: number) => hex(`hash ${n}`).slice(0, 64);
/** A key of one of Brioche's four shapes; bakes/…/output.json is JSON the real store accepts by shape. */
const bakeKey = (n: number) => `bakes/${h(n)}/output.json`;
const bakeBody = (n: number) => JSON.stringify({ outputHash: h(n + 1000) });

async function keyFor(opts: { scopes?: Array<'read' | 'publish'>; repo?: string; expiresInMs?: number } = {}) {
  const created = await createTokenWithS3Key(larder.registry.auth, larder.registry.db, {
    login: 'admin',
    scopes: opts.scopes ?? ['publish'],
    repoPattern: opts.repo ?? null,
    expiresInMs: opts.expiresInMs ?? null,
  });
  return { ...created.s3, token: created.token, tokenId: created.row.id };
}

function client(key: S3AccessKey, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
    ...extra,
  });
}

/** The S3 error a command failed with: its code (the SDK's `name`) and status. */
async function s3Error(p: Promise<unknown>): Promise<{ code: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { code: err.name, status: err.$metadata.httpStatusCode, message: err.message };
    throw err;
  }
  throw new Error('the command succeeded');
}

async function objectCount(): Promise<number> {
  const r = await briocheDb(larder.registry)
    .selectFrom('brioche_objects')
    .select((e) => e.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

beforeAll(async () => {
  larder = await openTestApp({
    repos: [
      { name: 'cache', format: 'brioche', kind: 'hosted', visibility: 'public' },
      { name: 'secret', format: 'brioche', kind: 'hosted', visibility: 'private' },
      { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' },
    ],
    limits: { maxArchiveSize: MAX },
  });
  await larder.app.listen({ port: 0, host: '127.0.0.1' });
  endpoint = `http://127.0.0.1:${(larder.app.server.address() as AddressInfo).port}/-/s3`;
  writer = await keyFor();
});
afterAll(async () => {
  await larder?.stop();
});

describe('PutObject (create-only)', () => {
  it('stores with If-None-Match: * and answers 200 with an ETag; the same PUT again is 412, and so is one without the header', async () => {
    const s3 = client(writer);
    const put = await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(1), Body: bakeBody(1), IfNoneMatch: '*' }));
    expect(put.$metadata.httpStatusCode).toBe(200);
    expect(put.ETag).toBe(`"${hex(bakeBody(1))}"`);
    const again = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(1), Body: bakeBody(1), IfNoneMatch: '*' })));
    expect(again).toMatchObject({ code: 'PreconditionFailed', status: 412 });
    const overwrite = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(1), Body: bakeBody(2) })));
    expect(overwrite).toMatchObject({ code: 'PreconditionFailed', status: 412 });
    expect(overwrite.message).toMatch(/immutable/);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'cache', Key: bakeKey(1) }));
    expect(await got.Body!.transformToString()).toBe(bakeBody(1));
  });

  it('stores a new key without If-None-Match too, checking the SDK’s default CRC32 checksum', async () => {
    const s3 = client(writer);
    const sent: Array<Record<string, string>> = [];
    s3.middlewareStack.add(
      (next) => async (args) => {
        sent.push({ ...(args.request as { headers: Record<string, string> }).headers });
        return next(args);
      },
      { step: 'deserialize', name: 'record' },
    );
    const put = await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(2), Body: bakeBody(2) }));
    expect(put.ETag).toBe(`"${hex(bakeBody(2))}"`);
    // What the SDK sends by default: the body's sha256 signed, and a CRC32 the endpoint checks too.
    expect(sent[0]).toMatchObject({ 'x-amz-content-sha256': hex(bakeBody(2)), 'x-amz-checksum-crc32': expect.any(String) });
  });

  it('answers a plain PUT sent again with the same bytes (a retry) 200 and the same ETag, changing nothing; refuses it to a read-only key', async () => {
    const s3 = client(writer);
    const reader = await keyFor({ scopes: ['read'] });
    const key = bakeKey(50);
    const first = await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: key, Body: bakeBody(50) }));
    expect(first.$metadata.httpStatusCode).toBe(200);
    const before = await registryState(larder.registry, larder.data);
    const again = await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: key, Body: bakeBody(50) }));
    expect(again.$metadata.httpStatusCode).toBe(200);
    expect(again.ETag).toBe(first.ETag);
    expect(await s3Error(client(reader).send(new PutObjectCommand({ Bucket: 'cache', Key: key, Body: bakeBody(50) })))).toMatchObject({
      code: 'AccessDenied',
      status: 403,
    });
    expect(await registryState(larder.registry, larder.data)).toEqual(before);
  });

  it('accepts UNSIGNED-PAYLOAD', async () => {
    const s3 = client(writer);
    s3.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'unsignedPayload' },
    );
    const put = await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(3), Body: bakeBody(3), IfNoneMatch: '*' }));
    expect(put.ETag).toBe(`"${hex(bakeBody(3))}"`);
  });

  it('refuses a body whose sha256 is not the signed one, storing nothing', async () => {
    const s3 = client(writer);
    // Swapped after signing: the signature still holds, the payload hash does not.
    s3.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { body: unknown }).body = bakeBody(99);
        return next(args);
      },
      { step: 'deserialize', name: 'tamper' },
    );
    const before = await objectCount();
    const err = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(4), Body: bakeBody(4), IfNoneMatch: '*' })));
    expect(err).toMatchObject({ code: 'XAmzContentSHA256Mismatch', status: 400 });
    expect(await objectCount()).toBe(before);
    expect(await s3Error(client(writer).send(new HeadObjectCommand({ Bucket: 'cache', Key: bakeKey(4) })))).toMatchObject({ status: 404 });
  });

  it('refuses a body over limits.max_archive_size with 413 EntityTooLarge', async () => {
    const before = await objectCount();
    const err = await s3Error(
      client(writer).send(
        new PutObjectCommand({ Bucket: 'cache', Key: `chunks/${h(5)}.zst`, Body: Buffer.alloc(MAX + 1), IfNoneMatch: '*' }),
      ),
    );
    expect(err).toMatchObject({ code: 'EntityTooLarge', status: 413 });
    expect(await objectCount()).toBe(before);
  });

  it('refuses keys outside the bucket’s formats and repos without an object store', async () => {
    expect(await s3Error(client(writer).send(new PutObjectCommand({ Bucket: 'crates', Key: bakeKey(6), Body: 'x' })))).toMatchObject({
      code: 'NoSuchBucket',
      status: 404,
    });
    expect(await s3Error(client(writer).send(new PutObjectCommand({ Bucket: 'nope', Key: bakeKey(6), Body: 'x' })))).toMatchObject({
      code: 'NoSuchBucket',
      status: 404,
    });
  });
});

describe('GetObject and HeadObject', () => {
  it('answer 200 with the length, ETag and Last-Modified, 206 for a range, and 404 NoSuchKey for a missing key', async () => {
    const s3 = client(writer);
    await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(10), Body: bakeBody(10), IfNoneMatch: '*' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'cache', Key: bakeKey(10) }));
    expect(head.ContentLength).toBe(Buffer.byteLength(bakeBody(10)));
    expect(head.ETag).toBe(`"${hex(bakeBody(10))}"`);
    expect(head.LastModified).toBeInstanceOf(Date);
    expect(Math.abs(head.LastModified!.getTime() - Date.now())).toBeLessThan(10 * 60_000);
    const range = await s3.send(new GetObjectCommand({ Bucket: 'cache', Key: bakeKey(10), Range: 'bytes=0-3' }));
    expect(range.$metadata.httpStatusCode).toBe(206);
    expect(await range.Body!.transformToString()).toBe(bakeBody(10).slice(0, 4));
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'cache', Key: bakeKey(11) })))).toMatchObject({
      code: 'NoSuchKey',
      status: 404,
    });
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'cache', Key: bakeKey(11) })))).toMatchObject({ status: 404 });
  });

  it('serves public buckets unsigned, and private ones only to keys that may read them', async () => {
    await client(writer).send(new PutObjectCommand({ Bucket: 'secret', Key: bakeKey(12), Body: bakeBody(12), IfNoneMatch: '*' }));
    const pub = await fetch(`${endpoint}/cache/${bakeKey(10)}`);
    expect(pub.status).toBe(200);
    expect(pub.headers.get('content-length')).toBe(String(Buffer.byteLength(bakeBody(10))));
    expect(pub.headers.get('content-encoding')).toBeNull();
    const missing = await fetch(`${endpoint}/cache/${bakeKey(13)}`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toMatch(/<Code>NoSuchKey<\/Code>/);
    const anon = await fetch(`${endpoint}/secret/${bakeKey(12)}`);
    expect(anon.status).toBe(403);
    expect(await anon.text()).toMatch(/<Code>AccessDenied<\/Code>/);
    const reader = await keyFor({ scopes: ['read'] });
    const got = await client(reader).send(new GetObjectCommand({ Bucket: 'secret', Key: bakeKey(12) }));
    expect(await got.Body!.transformToString()).toBe(bakeBody(12));
    const elsewhere = await keyFor({ scopes: ['read'], repo: 'cache' });
    expect(await s3Error(client(elsewhere).send(new GetObjectCommand({ Bucket: 'secret', Key: bakeKey(12) })))).toMatchObject({
      code: 'AccessDenied',
      status: 403,
    });
  });
});

describe('SigV4 and the token behind a key', () => {
  it('refuses a wrong secret (SignatureDoesNotMatch) and an unknown key id (InvalidAccessKeyId), storing nothing', async () => {
    const before = await objectCount();
    const wrong = client({
      accessKeyId: writer.accessKeyId,
      secretAccessKey: writer.secretAccessKey.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    });
    expect(
      await s3Error(wrong.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(20), Body: bakeBody(20), IfNoneMatch: '*' }))),
    ).toMatchObject({
      code: 'SignatureDoesNotMatch',
      status: 403,
    });
    const unknown = client({ accessKeyId: 'LRDRAAAAAAAAAAAAAAAA', secretAccessKey: writer.secretAccessKey });
    expect(
      await s3Error(unknown.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(20), Body: bakeBody(20), IfNoneMatch: '*' }))),
    ).toMatchObject({
      code: 'InvalidAccessKeyId',
      status: 403,
    });
    // A wrong signature is refused on reads of a public bucket too.
    expect(await s3Error(wrong.send(new GetObjectCommand({ Bucket: 'cache', Key: bakeKey(10) })))).toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
    expect(await objectCount()).toBe(before);
  });

  it('refuses a request signed more than 15 minutes off the server clock (RequestTimeTooSkewed)', async () => {
    const skewed = client(writer, { systemClockOffset: -20 * 60_000 });
    expect(
      await s3Error(skewed.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(21), Body: bakeBody(21), IfNoneMatch: '*' }))),
    ).toMatchObject({
      code: 'RequestTimeTooSkewed',
      status: 403,
    });
    // Ten minutes off is within S3's tolerance.
    const close = client(writer, { systemClockOffset: 10 * 60_000 });
    expect(
      (await close.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(21), Body: bakeBody(21), IfNoneMatch: '*' }))).ETag,
    ).toBeTruthy();
  });

  it('stops a key when its token is revoked or has expired', async () => {
    const key = await keyFor();
    await client(key).send(new HeadObjectCommand({ Bucket: 'cache', Key: bakeKey(10) }));
    await larder.registry.auth.revokeToken(String(key.tokenId));
    const revoked = await s3Error(
      client(key).send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(22), Body: bakeBody(22), IfNoneMatch: '*' })),
    );
    expect(revoked).toMatchObject({ code: 'InvalidAccessKeyId', status: 403 });
    expect(revoked.message).toMatch(/revoked/);
    const short = await keyFor({ expiresInMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    expect(
      await s3Error(client(short).send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(22), Body: bakeBody(22), IfNoneMatch: '*' }))),
    ).toMatchObject({
      code: 'ExpiredToken',
      status: 403,
    });
  });

  it('needs the publish scope on the repository to write', async () => {
    const reader = await keyFor({ scopes: ['read'] });
    expect(
      await s3Error(client(reader).send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(23), Body: bakeBody(23), IfNoneMatch: '*' }))),
    ).toMatchObject({
      code: 'AccessDenied',
      status: 403,
    });
    const other = await keyFor({ repo: 'secret' });
    expect(
      await s3Error(client(other).send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(23), Body: bakeBody(23), IfNoneMatch: '*' }))),
    ).toMatchObject({
      code: 'AccessDenied',
      status: 403,
    });
    const anon = await fetch(`${endpoint}/cache/${bakeKey(23)}`, { method: 'PUT', body: bakeBody(23), headers: { 'if-none-match': '*' } });
    expect(anon.status).toBe(403);
    expect(await anon.text()).toMatch(/<Code>AccessDenied<\/Code>[\s\S]*token create --s3/);
  });
});

describe('keys', () => {
  it('refuses a key the store does not accept (traversal) with a 4xx with a 4xx and stores nothing', async () => {
    const before = await objectCount();
    const err = await s3Error(
      client(writer).send(new PutObjectCommand({ Bucket: 'cache', Key: '../escape', Body: 'x', IfNoneMatch: '*' })),
    );
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.status).toBeLessThan(500);
    expect(await objectCount()).toBe(before);
  });
});

describe('what the endpoint does not implement', () => {
  it('answers 501 NotImplemented naming the operation', async () => {
    const s3 = client(writer);
    for (const [cmd, name] of [
      [new ListObjectsV2Command({ Bucket: 'cache' }), /ListObjects/],
      [new DeleteObjectCommand({ Bucket: 'cache', Key: bakeKey(1) }), /DeleteObject/],
      [new CreateMultipartUploadCommand({ Bucket: 'cache', Key: bakeKey(30) }), /multipart/],
    ] as const) {
      const err = await s3Error(s3.send(cmd as never));
      expect(err).toMatchObject({ code: 'NotImplemented', status: 501 });
      expect(err.message).toMatch(name);
    }
    // Presigned URLs.
    const presigned = await fetch(`${endpoint}/cache/${bakeKey(1)}?X-Amz-Credential=x&X-Amz-Signature=y`);
    expect(presigned.status).toBe(501);
  });
});

describe('access keys', () => {
  it('POST /-/api/tokens with "s3": true returns the token and the key pair, which signs requests', async () => {
    const res = await larder.app.inject({
      method: 'POST',
      url: '/-/api/tokens',
      headers: { authorization: `Bearer ${larder.adminToken}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ scopes: ['publish'], repo: 'cache', s3: true }),
    });
    expect(res.statusCode).toBe(201);
    const body = res.json() as {
      secret: string;
      s3: { access_key_id: string; secret_access_key: string; endpoint: string; region: string };
    };
    expect(body.s3).toMatchObject({ endpoint: 'https://larder.test/-/s3', region: 'us-east-1' });
    const s3 = client({ accessKeyId: body.s3.access_key_id, secretAccessKey: body.s3.secret_access_key });
    expect(
      (await s3.send(new PutObjectCommand({ Bucket: 'cache', Key: bakeKey(40), Body: bakeBody(40), IfNoneMatch: '*' }))).ETag,
    ).toBeTruthy();
  });

  it('`larder token create --s3` prints the token and the AWS_* lines', async () => {
    const dir = tempDir('larder-s3-cli-');
    try {
      const res = await larderCli(dir.path, ['token', 'create', '--s3', '--scopes', 'publish', '--repo', 'brioche*', '--data', dir.path]);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^larder_/);
      expect(lines.slice(1).map((l) => l.split('=')[0])).toEqual([
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_ENDPOINT_URL_S3',
        'AWS_REGION',
      ]);
      expect(lines[1]).toMatch(/^AWS_ACCESS_KEY_ID=LRDR[A-Z2-7]{16}$/);
      expect(lines[3]).toMatch(/^AWS_ENDPOINT_URL_S3=https?:\/\/.+\/-\/s3$/);
      expect(lines[4]).toBe('AWS_REGION=us-east-1');
      const list = await larderCli(dir.path, ['token', 'list', '--data', dir.path]);
      expect(list.stdout).toMatch(/brioche\*/);
    } finally {
      dir.remove();
    }
  });
});

// Objects written through S3 are read back over the HTTP cache path brioche reads with.
describe('through the Brioche cache', () => {
  it('an object written via S3 is read byte for byte via GET /{repo}/cache/<key>', async () => {
    const key = `projects/${h(50)}/source.json`;
    const body = JSON.stringify({ artifactHash: h(51) });
    await client(writer).send(new PutObjectCommand({ Bucket: 'cache', Key: key, Body: body, IfNoneMatch: '*' }));
    const res = await fetch(`${endpoint.replace(/\/-\/s3$/, '')}/cache/cache/${key}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(await res.text()).toBe(body);
  });
});
