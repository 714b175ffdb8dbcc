import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of some bytes or text. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A strong HTTP entity tag for exact bytes: their SHA-256, quoted. */
export function strongEtag(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}
