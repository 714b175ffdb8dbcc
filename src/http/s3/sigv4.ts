/**
 * AWS Signature Version 4 as S3 verifies it (header auth only): the canonical request, the string
 * to sign, the signing key and the comparison. Pure functions; the route supplies the request parts.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** The payload hash of a body the client chose not to hash (accepted: TLS protects it in transit). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty body, which signed GET/HEAD requests carry. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** How far a request's x-amz-date may be from the server's clock, as S3 allows. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

/** The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header. */
export interface SigV4Authorization {
  accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  date: string;
  region: string;
  service: string;
  /** Lower-case header names, in the order signed (sorted by the client). */
  signedHeaders: string[];
  signature: string;
}

/** Parses the Authorization header; null when it is not a SigV4 header at all, a string naming what is malformed otherwise. */
export function parseAuthorization(header: string): SigV4Authorization | string | null {
  const value = header.trim();
  if (!value.startsWith(ALGORITHM + ' ')) return null;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signed || !signature) return 'the Authorization header needs Credential, SignedHeaders and Signature';
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]!))
    return `the credential "${credential}" is not <key id>/<yyyymmdd>/<region>/<service>/aws4_request`;
  if (!/^[0-9a-f]{64}$/.test(signature)) return 'the signature is not 64 lower-case hex digits';
  const signedHeaders = signed.split(';').map((h) => h.trim().toLowerCase());
  if (!signedHeaders.includes('host')) return 'SignedHeaders must include host';
  return { accessKeyId: scope[0]!, date: scope[1]!, region: scope[2]!, service: scope[3]!, signedHeaders, signature };
}

/** Parses `YYYYMMDDTHHMMSSZ` to epoch milliseconds, or null. */
export function parseAmzDate(value: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? null : ms;
}

/** RFC 3986 encoding as SigV4 wants it: every byte but `A-Z a-z 0-9 - _ . ~` as upper-case `%XX`. */
export function uriEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The canonical URI of a raw request path (as sent, percent-encoded): S3 encodes the path once
 * (no double encoding, unlike other services), keeps `/`, and does not normalise `//` or `.`.
 */
export function canonicalUri(rawPath: string): string {
  return uriEncode(decode(rawPath), true) || '/';
}

/** The canonical query string of a raw query (without `?`): pairs encoded, sorted by key then value. */
export function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  const pairs = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? '' : p.slice(eq + 1);
      return [uriEncode(decode(k)), uriEncode(decode(v))] as const;
    });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header values as SigV4 canonicalises them: trimmed, inner runs of spaces collapsed, repeated headers joined with `,`. */
export function canonicalHeaderValue(values: string[]): string {
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

/** The request as signed. `headers` maps lower-case names to every value received under that name. */
export interface SignedRequest {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: ReadonlyMap<string, string[]>;
  signedHeaders: string[];
  payloadHash: string;
}

/** The canonical request; null names a signed header the request does not carry. */
export function canonicalRequest(req: SignedRequest): string | { missing: string } {
  const lines: string[] = [];
  for (const name of req.signedHeaders) {
    const values = req.headers.get(name);
    if (!values) return { missing: name };
    lines.push(`${name}:${canonicalHeaderValue(values)}\n`);
  }
  return [
    req.method.toUpperCase(),
    canonicalUri(req.rawPath),
    canonicalQuery(req.rawQuery),
    lines.join(''),
    req.signedHeaders.join(';'),
    req.payloadHash,
  ].join('\n');
}

/** The credential scope `date/region/service/aws4_request`. */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

/** The string to sign for a canonical request. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The signing key derived from the secret for one day, region and service. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

/** The hex signature of a string to sign. */
export function signature(key: Buffer, toSign: string): string {
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

/** Compares two hex signatures in constant time. */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Computes what the signature of `req` must be under `secret` and the scope in `auth`. */
export function expectedSignature(
  req: SignedRequest,
  auth: SigV4Authorization,
  amzDate: string,
  secret: string,
): string | { missing: string } {
  const canonical = canonicalRequest(req);
  if (typeof canonical !== 'string') return canonical;
  const scope = credentialScope(auth.date, auth.region, auth.service);
  return signature(signingKey(secret, auth.date, auth.region, auth.service), stringToSign(amzDate, scope, canonical));
}
