import { createHash } from 'node:crypto';
import { fail } from './errors.js';

/** The SRI algorithms Bazel accepts in `source.json` (bazel.md §6.1). */
export type SriAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** Base64 length of each algorithm's digest (standard alphabet, padded). */
const BASE64_LENGTH: Record<SriAlgorithm, number> = { sha256: 44, sha384: 64, sha512: 88 };

/** `<algo>-<base64 of the raw digest>` of some bytes. */
export function sri(bytes: Uint8Array, algorithm: SriAlgorithm = 'sha256'): string {
  return `${algorithm}-${createHash(algorithm).update(bytes).digest('base64')}`;
}

/**
 * Parses one SRI value; throws METADATA_INVALID for anything else (unknown algorithm, wrong
 * length, bad or non-canonical base64, several space-separated hashes).
 */
export function parseSri(value: string): { algorithm: SriAlgorithm; digest: Buffer } {
  const m = typeof value === 'string' ? /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(value) : null;
  const algorithm = m?.[1] as SriAlgorithm | undefined;
  const b64 = m?.[2] ?? '';
  const digest = Buffer.from(b64, 'base64');
  // Re-encoding catches misplaced padding and non-zero trailing bits (non-canonical base64).
  if (!algorithm || b64.length !== BASE64_LENGTH[algorithm] || digest.toString('base64') !== b64) {
    const shown = JSON.stringify(value)?.slice(0, 120) ?? String(value);
    fail(
      'METADATA_INVALID',
      `${shown} is not an SRI value like sha256-<44 base64 characters> ` +
        '(sha384-<64>, sha512-<88> also accepted); compute it with `openssl dgst -sha256 -binary FILE | base64`',
    );
  }
  return { algorithm, digest };
}

/** Streaming SRI: feed chunks with update(), then digest() once for the SRI string. */
export function sriHasher(algorithm: SriAlgorithm): { update(chunk: Uint8Array): void; digest(): string } {
  const hash = createHash(algorithm);
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => `${algorithm}-${hash.digest('base64')}`,
  };
}

/** True when the bytes match the SRI value (hashed with its own algorithm); throws if it is malformed. */
export function matchesSri(bytes: Uint8Array, value: string): boolean {
  const { algorithm, digest } = parseSri(value);
  return createHash(algorithm).update(bytes).digest().equals(digest);
}
