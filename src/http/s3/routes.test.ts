import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { LarderError } from '../../core/errors.js';
import { blobStoreUnavailable } from '../../storage/blob-errors.js';
import { errorXml, S3Error, s3ErrorHandler, toS3Error } from './errors.js';
import { checkedBody, operationOf } from './routes.js';

const op = (method: string, path: string, query = '', headers: Record<string, string> = {}) =>
  operationOf(method, path, new URLSearchParams(query), headers);

describe('operationOf', () => {
  it('reads bucket and key path-style, decoding the key once', () => {
    expect(op('PUT', '/cache/projects/ab/source.json', 'x-id=PutObject')).toEqual({
      op: 'PutObject',
      bucket: 'cache',
      key: 'projects/ab/source.json',
    });
    expect(op('GET', '/cache/a%20b/c')).toEqual({ op: 'GetObject', bucket: 'cache', key: 'a b/c' });
    expect(op('HEAD', '/cache/k')).toMatchObject({ op: 'HeadObject' });
  });

  it('names every operation it does not implement', () => {
    expect(op('GET', '/')).toMatchObject({ op: 'unsupported', name: 'ListBuckets' });
    expect(op('GET', '/cache', 'list-type=2')).toMatchObject({ op: 'unsupported', name: expect.stringMatching(/ListObjects/) });
    expect(op('PUT', '/cache/')).toMatchObject({ name: expect.stringMatching(/CreateBucket/) });
    expect(op('POST', '/cache/k', 'uploads')).toMatchObject({ name: expect.stringMatching(/multipart/) });
    expect(op('PUT', '/cache/k', 'partNumber=1&uploadId=x')).toMatchObject({ name: expect.stringMatching(/multipart/) });
    expect(op('PUT', '/cache/k', '', { 'x-amz-copy-source': '/cache/j' })).toMatchObject({ name: 'CopyObject' });
    expect(op('DELETE', '/cache/k')).toMatchObject({ name: expect.stringMatching(/DeleteObject/) });
    expect(op('GET', '/cache/k', 'acl')).toMatchObject({ name: 'ACLs' });
  });
});

describe('checkedBody', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const crcOf = (s: string) => {
    const c = crc32(Buffer.from(s));
    return Buffer.from([c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255]).toString('base64');
  };

  it('passes a body whose sha256 and checksums match', async () => {
    const body = checkedBody(Readable.from([Buffer.from('hello '), Buffer.from('world')]), sha('hello world'), 100, {
      crc32: crcOf('hello world'),
      sha256: Buffer.from(sha('hello world'), 'hex').toString('base64'),
    });
    expect(await text(body)).toBe('hello world');
    expect(await text(checkedBody(Readable.from([Buffer.from('x')]), 'UNSIGNED-PAYLOAD', 100))).toBe('x');
  });

  it('errors instead of ending when the body differs from what was signed or summed', async () => {
    await expect(text(checkedBody(Readable.from([Buffer.from('hello')]), sha('other'), 100))).rejects.toMatchObject({
      s3Code: 'XAmzContentSHA256Mismatch',
    });
    await expect(
      text(checkedBody(Readable.from([Buffer.from('hello')]), 'UNSIGNED-PAYLOAD', 100, { crc32: crcOf('other') })),
    ).rejects.toMatchObject({
      s3Code: 'BadDigest',
    });
  });

  it('errors past the size limit and refuses a payload hash that is neither hex nor UNSIGNED-PAYLOAD', async () => {
    await expect(text(checkedBody(Readable.from([Buffer.alloc(101)]), 'UNSIGNED-PAYLOAD', 100))).rejects.toMatchObject({
      code: 'ARCHIVE_TOO_LARGE',
    });
    expect(() => checkedBody(Readable.from([]), 'nonsense', 100)).toThrow(/x-amz-content-sha256/);
  });
});

describe('S3 errors', () => {
  it('maps Larder errors to the S3 codes clients act on', () => {
    expect(toS3Error(new LarderError('SCOPE_MISSING', 'm'))).toMatchObject({ s3Code: 'AccessDenied', status: 403 });
    expect(toS3Error(new LarderError('TOKEN_REVOKED', 'm'))).toMatchObject({ s3Code: 'InvalidAccessKeyId', status: 403 });
    expect(toS3Error(new LarderError('ARCHIVE_TOO_LARGE', 'm'))).toMatchObject({ s3Code: 'EntityTooLarge', status: 413 });
    expect(toS3Error(new LarderError('MANIFEST_MISMATCH', 'm'))).toMatchObject({ s3Code: 'InvalidArgument', status: 400 });
    expect(toS3Error(new Error('secret detail'))).toMatchObject({ s3Code: 'InternalError', status: 500 });
    expect(toS3Error(new Error('secret detail')).message).not.toMatch(/secret/);
  });

  it('renders the XML S3 clients parse, escaped', () => {
    const xml = errorXml(new S3Error('NoSuchKey', 404, 'no <key> & such'), '/-/s3/cache/k', 'req-1', { Key: 'k' });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>no &#60;key&#62; &#38; such</Message><Key>k</Key><Resource>/-/s3/cache/k</Resource><RequestId>req-1</RequestId></Error>',
    );
  });

  it('answers a blob store outage as ServiceUnavailable with Retry-After, so SDK clients back off and retry', async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(s3ErrorHandler);
    app.get('/-/s3/cache/*', async () => {
      throw blobStoreUnavailable('the blob store s3://b', 'cannot be reached (ECONNREFUSED)', 'write', new Error('x'));
    });
    const res = await app.inject({ method: 'GET', url: '/-/s3/cache/k' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatch(
      /<Code>ServiceUnavailable<\/Code><Message>the blob store s3:\/\/b cannot be reached \(ECONNREFUSED\); nothing was stored/,
    );
    await app.close();
  });
});
