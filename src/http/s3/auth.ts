/**
 * Who signed a request to the S3 endpoint: the SigV4 Authorization header checked against the
 * access key's secret (registry/s3-keys.ts), the clock checked against x-amz-date, then the
 * principal of the token the key is bound to (refused when that token is revoked or expired).
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../registry/auth.js';
import type { Registry } from '../../registry/registry.js';
import { findS3Key, principalOfS3Key } from '../../registry/s3-keys.js';
import { s3Fail } from './errors.js';
import { MAX_SKEW_MS, expectedSignature, parseAmzDate, parseAuthorization, signaturesEqual } from './sigv4.js';

/** The parts of a request SigV4 and the router need, taken from the raw request line and headers. */
export interface RequestParts {
  /** The raw (still percent-encoded) path as sent, e.g. `/-/s3/bucket/key`. */
  rawPath: string;
  /** The raw path below the endpoint's prefix, e.g. `/bucket/key`. */
  path: string;
  /** The raw query, without `?`. */
  rawQuery: string;
  /** Every header by lower-case name, with every value received (repeated headers kept apart). */
  headers: Map<string, string[]>;
}

/** Splits the raw request into what signing and routing need. */
export function requestParts(req: FastifyRequest, prefix: string): RequestParts {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const headers = new Map<string, string[]>();
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), raw[i + 1]!]);
  }
  // HTTP/2 carries the host as :authority; clients sign it as `host`.
  if (!headers.has('host') && headers.has(':authority')) headers.set('host', headers.get(':authority')!);
  return { rawPath, path: rawPath.startsWith(prefix) ? rawPath.slice(prefix.length) : rawPath, rawQuery, headers };
}

/** A verified request: whose it is, and the payload hash it signed (the body is checked against it as it streams). */
export interface S3Caller {
  principal: Principal;
  payloadHash: string;
}

/** Verifies the request's signature; null for an unsigned (anonymous) request. Throws the S3 error a client expects otherwise. */
export async function authenticateS3(
  registry: Registry,
  req: FastifyRequest,
  parts: RequestParts,
  now = Date.now(),
): Promise<S3Caller | null> {
  const header = req.headers.authorization;
  if (!header) {
    const query = new URLSearchParams(parts.rawQuery);
    if (query.has('X-Amz-Signature') || query.has('X-Amz-Credential'))
      s3Fail(
        'NotImplemented',
        501,
        'presigned URLs (query-string authentication) are not implemented; sign requests with the Authorization header',
      );
    return null;
  }
  const auth = parseAuthorization(header);
  if (auth === null)
    s3Fail(
      'AccessDenied',
      403,
      'only AWS Signature Version 4 (AWS4-HMAC-SHA256) is accepted; use an access key from `larder token create --s3`',
    );
  if (typeof auth === 'string') s3Fail('AuthorizationHeaderMalformed', 400, auth);
  if (auth.service !== 's3')
    s3Fail('AuthorizationHeaderMalformed', 400, `the credential scope names the service "${auth.service}", not "s3"`);

  const key = await findS3Key(registry.db, auth.accessKeyId);
  if (!key)
    s3Fail('InvalidAccessKeyId', 403, `the access key id ${auth.accessKeyId} does not exist; create one with \`larder token create --s3\``);

  const amzDate = parts.headers.get('x-amz-date')?.[0];
  const at = amzDate ? parseAmzDate(amzDate) : null;
  if (!amzDate || at === null) s3Fail('AccessDenied', 403, 'a signed request needs an x-amz-date header (YYYYMMDDTHHMMSSZ)');
  if (Math.abs(at - now) > MAX_SKEW_MS) {
    s3Fail(
      'RequestTimeTooSkewed',
      403,
      `the request time ${new Date(at).toISOString()} is more than 15 minutes from the server's ${new Date(now).toISOString()}; correct the client's clock`,
    );
  }
  if (amzDate.slice(0, 8) !== auth.date)
    s3Fail('SignatureDoesNotMatch', 403, `the credential date ${auth.date} is not the date of x-amz-date ${amzDate}`);

  const payloadHash = parts.headers.get('x-amz-content-sha256')?.[0];
  if (!payloadHash) s3Fail('InvalidRequest', 400, 'Missing required header for this request: x-amz-content-sha256');
  const expected = expectedSignature(
    {
      method: req.method,
      rawPath: parts.rawPath,
      rawQuery: parts.rawQuery,
      headers: parts.headers,
      signedHeaders: auth.signedHeaders,
      payloadHash,
    },
    auth,
    amzDate,
    key.secret,
  );
  if (typeof expected !== 'string') s3Fail('AccessDenied', 403, `the signed header ${expected.missing} is not in the request`);
  if (!signaturesEqual(expected, auth.signature)) {
    s3Fail(
      'SignatureDoesNotMatch',
      403,
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  return { principal: await principalOfS3Key(registry.auth, key), payloadHash };
}
