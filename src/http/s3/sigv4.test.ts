import { describe, expect, it } from 'vitest';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  expectedSignature,
  parseAmzDate,
  parseAuthorization,
  signaturesEqual,
  type SigV4Authorization,
  type SignedRequest,
} from './sigv4.js';

// The examples of AWS's "Signature Calculations for the Authorization Header" (S3 API reference).
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20130524T000000Z';

function headers(h: Record<string, string>): Map<string, string[]> {
  return new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), [v]]));
}

function authOf(header: string): SigV4Authorization {
  const a = parseAuthorization(header);
  if (a === null || typeof a === 'string') throw new Error(`not parsed: ${a}`);
  return a;
}

describe('SigV4 as S3 verifies it', () => {
  it('reproduces the AWS GET Object example (Range header, empty payload)', () => {
    const auth = authOf(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(auth).toMatchObject({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', date: '20130524', region: 'us-east-1', service: 's3' });
    const req: SignedRequest = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery: '',
      headers: headers({
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': AMZ_DATE,
      }),
      signedHeaders: auth.signedHeaders,
      payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    };
    expect(expectedSignature(req, auth, AMZ_DATE, SECRET)).toBe(auth.signature);
    expect(expectedSignature(req, auth, AMZ_DATE, SECRET + 'x')).not.toBe(auth.signature);
  });

  it('reproduces the AWS PUT Object example (a `$` in the key, extra signed headers)', () => {
    const auth = authOf(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    );
    const payloadHash = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';
    const req: SignedRequest = {
      method: 'PUT',
      // The client may send `$` raw or as %24: the canonical URI is the same.
      rawPath: '/test$file.text',
      rawQuery: '',
      headers: headers({
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        host: 'examplebucket.s3.amazonaws.com',
        'x-amz-content-sha256': payloadHash,
        'x-amz-date': AMZ_DATE,
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      }),
      signedHeaders: auth.signedHeaders,
      payloadHash,
    };
    expect(expectedSignature(req, auth, AMZ_DATE, SECRET)).toBe(auth.signature);
    expect(expectedSignature({ ...req, rawPath: '/test%24file.text' }, auth, AMZ_DATE, SECRET)).toBe(auth.signature);
    // A signed header that differs breaks the signature.
    const changed = new Map(req.headers);
    changed.set('x-amz-storage-class', ['STANDARD']);
    expect(expectedSignature({ ...req, headers: changed }, auth, AMZ_DATE, SECRET)).not.toBe(auth.signature);
  });

  it('reproduces the AWS GET Bucket lifecycle and list examples (query strings)', () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const base = {
      method: 'GET',
      rawPath: '/',
      headers: headers({ host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': empty, 'x-amz-date': AMZ_DATE }),
      payloadHash: empty,
    };
    const lifecycle = authOf(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
    );
    expect(expectedSignature({ ...base, rawQuery: 'lifecycle', signedHeaders: lifecycle.signedHeaders }, lifecycle, AMZ_DATE, SECRET)).toBe(
      lifecycle.signature,
    );
    const list = authOf(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    );
    // Sent in any order: the canonical query is sorted.
    expect(expectedSignature({ ...base, rawQuery: 'prefix=J&max-keys=2', signedHeaders: list.signedHeaders }, list, AMZ_DATE, SECRET)).toBe(
      list.signature,
    );
  });

  it('encodes paths once, keeping `/`, with spaces as %20', () => {
    expect(canonicalUri('/bucket/a%20b/c+d~e')).toBe('/bucket/a%20b/c%2Bd~e');
    expect(canonicalUri('/bucket/%C3%A9')).toBe('/bucket/%C3%A9');
    expect(canonicalUri('/bucket/é')).toBe('/bucket/%C3%A9');
    // No double encoding: %2F stays one encoded byte's worth (decoded to `/`, kept).
    expect(canonicalUri('/bucket/a%25b')).toBe('/bucket/a%25b');
    expect(canonicalUri('')).toBe('/');
  });

  it('sorts and encodes the query, giving keys without values an empty value', () => {
    expect(canonicalQuery('x-id=PutObject&a=b%20c&uploads')).toBe('a=b%20c&uploads=&x-id=PutObject');
    expect(canonicalQuery('')).toBe('');
  });

  it('names a signed header the request lacks', () => {
    const req: SignedRequest = {
      method: 'GET',
      rawPath: '/',
      rawQuery: '',
      headers: headers({ host: 'h' }),
      signedHeaders: ['host', 'x-amz-date'],
      payloadHash: '',
    };
    expect(canonicalRequest(req)).toEqual({ missing: 'x-amz-date' });
  });

  it('says what is malformed in an Authorization header, and passes over other schemes', () => {
    expect(parseAuthorization('Bearer larder_x')).toBeNull();
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=a/b/c/d/e')).toMatch(/needs Credential, SignedHeaders and Signature/);
    expect(
      parseAuthorization(`AWS4-HMAC-SHA256 Credential=a/2013/r/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`),
    ).toMatch(/is not <key id>/);
    expect(
      parseAuthorization(`AWS4-HMAC-SHA256 Credential=a/20130524/r/s3/aws4_request, SignedHeaders=x-amz-date, Signature=${'0'.repeat(64)}`),
    ).toMatch(/must include host/);
  });

  it('parses x-amz-date and compares signatures in full', () => {
    expect(parseAmzDate('20130524T000000Z')).toBe(Date.UTC(2013, 4, 24));
    expect(parseAmzDate('2013-05-24T00:00:00Z')).toBeNull();
    expect(signaturesEqual('ab', 'ab')).toBe(true);
    expect(signaturesEqual('ab', 'abc')).toBe(false);
    expect(signaturesEqual('ab', 'ac')).toBe(false);
  });
});
