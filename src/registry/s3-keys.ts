/**
 * S3 access keys for Larder's S3-compatible endpoint (Brioche's cache writes, protocols/brioche.md §3.3).
 * Each key is bound to one token and acts as that token's principal: its scopes, repository and
 * package patterns, and its life (revoking or expiring the token disables the key).
 *
 * Unlike a token, the secret is stored as is: SigV4 proves possession of the secret by an HMAC the
 * server must recompute with the same key, so a hash of it would be useless. Whoever can read the
 * database can therefore sign S3 requests with these keys (and only these: tokens stay hashed).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../storage/db.js';
import type { Auth, CreatedToken, Principal, TokenRequest } from './auth.js';

/** An access key pair as the user is given it once. */
export interface S3AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

/** An access key as the endpoint looks it up. */
export interface S3KeyRecord {
  accessKeyId: string;
  tokenId: number;
  secret: string;
}

// AWS key ids are 20 upper-case alphanumerics (AKIA…); "LRDR" tells a Larder key apart in logs.
const KEY_ID_PREFIX = 'LRDR';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Whether a string has the shape of a Larder access key id (checked before any lookup). */
export function isAccessKeyId(id: string): boolean {
  return /^LRDR[A-Z2-7]{16}$/.test(id);
}

function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = KEY_ID_PREFIX;
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** Creates an access key bound to `tokenId`; the secret is returned here and nowhere else. */
export async function createS3Key(db: Db, tokenId: number): Promise<S3AccessKey> {
  const accessKeyId = newAccessKeyId();
  // 30 random bytes → 40 characters, the length of an AWS secret access key.
  const secretAccessKey = randomBytes(30).toString('base64url');
  await db
    .insertInto('s3_keys')
    .values({ access_key_id: accessKeyId, token_id: tokenId, secret: secretAccessKey, created_at: Date.now() })
    .execute();
  return { accessKeyId, secretAccessKey };
}

/** Creates a token and an access key bound to it (`larder token create --s3`, `POST /-/api/tokens` with `"s3": true`). */
export async function createTokenWithS3Key(auth: Auth, db: Db, req: TokenRequest): Promise<CreatedToken & { s3: S3AccessKey }> {
  const created = await auth.createToken(req);
  return { ...created, s3: await createS3Key(db, created.row.id) };
}

/** The key with this id, or null when there is none. */
export async function findS3Key(db: Db, accessKeyId: string): Promise<S3KeyRecord | null> {
  if (!isAccessKeyId(accessKeyId)) return null;
  const row = await db
    .selectFrom('s3_keys')
    .select(['access_key_id', 'token_id', 'secret'])
    .where('access_key_id', '=', accessKeyId)
    .executeTakeFirst();
  return row ? { accessKeyId: row.access_key_id, tokenId: row.token_id, secret: row.secret } : null;
}

/** The principal a key acts as: its token's, refused (TOKEN_REVOKED, TOKEN_EXPIRED) when the token no longer is. */
export function principalOfS3Key(auth: Auth, key: S3KeyRecord): Promise<Principal> {
  return auth.authenticateTokenId(key.tokenId);
}

/** The lines a user pastes into a shell to point an S3 client (Brioche's `s3://` write URL) at Larder. */
export function s3EnvLines(key: S3AccessKey, baseUrl: string): string[] {
  return [
    `AWS_ACCESS_KEY_ID=${key.accessKeyId}`,
    `AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`,
    `AWS_ENDPOINT_URL_S3=${s3EndpointUrl(baseUrl)}`,
    'AWS_REGION=us-east-1',
  ];
}

/** Where the S3-compatible endpoint is served: `{base}/-/s3` (path-style buckets below it). */
export function s3EndpointUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/-/s3`;
}
