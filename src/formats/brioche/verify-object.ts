/**
 * What Larder checks of a cache object before it stores it (protocols/brioche.md §4.4), whether a
 * client uploads it or a proxy fetches it: chunks must BLAKE3-hash to their name after zstd
 * decompression; `source.json` and `output.json` must have their one-field shape; artifact archives
 * must rebuild to the artifact their name hashes (artifact-archive.ts).
 */
import type { Readable } from 'node:stream';
import { decompress } from 'fzstd';
import { blake3 } from 'hash-wasm';
import { fail } from '../../core/errors.js';
import { HASH, type CacheKey } from './keys.js';

/** Largest JSON object (source.json, output.json) accepted: they hold one hash. */
const MAX_JSON = 4096;
/** FastCDC's largest chunk (§3.5) with room for zstd's framing. */
export const MAX_CHUNK = 8 * 1024 * 1024 + 64 * 1024;

/** Reads a stream into memory, refusing past `max` bytes. */
export async function readAtMost(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > max) {
      body.destroy();
      fail('ARCHIVE_TOO_LARGE', `${what} is larger than ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Decompresses a zstd frame, refusing a broken one with a message naming the object. */
export function unzstd(bytes: Uint8Array, what: string): Uint8Array {
  try {
    return decompress(bytes);
  } catch (err) {
    fail('ARCHIVE_INVALID', `${what} is not a valid zstd stream (${(err as Error).message}); nothing was stored`);
  }
}

/** Checks a `{"<field>": "<64 hex>"}` object. */
function checkHashObject(bytes: Buffer, field: string, what: string): void {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail('METADATA_INVALID', `${what} is not JSON; it must be {"${field}": "<64 hex>"}`);
  }
  const hash = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[field] : undefined;
  if (typeof hash !== 'string' || !HASH.test(hash)) fail('METADATA_INVALID', `${what} must be {"${field}": "<64 lower-case hex>"}`);
}

/**
 * Verifies an object's bytes against its key; rejects with a 4xx LarderError that names the key.
 * `artifacts` are checked by `checkArtifact` when given (it needs the chunks the archive refers to).
 */
export async function verifyCacheObject(
  key: CacheKey,
  body: Readable,
  opts: { checkArtifact?: (archive: Uint8Array) => Promise<void>; maxArtifact: number },
): Promise<void> {
  const what = `cache object ${key.key}`;
  switch (key.kind) {
    case 'project-source':
      return checkHashObject(await readAtMost(body, MAX_JSON, what), 'artifactHash', what);
    case 'bake-output':
      return checkHashObject(await readAtMost(body, MAX_JSON, what), 'outputHash', what);
    case 'chunk': {
      const data = unzstd(await readAtMost(body, MAX_CHUNK, what), what);
      if ((await blake3(data)) !== key.hash)
        fail('MANIFEST_MISMATCH', `${what} does not hash to its name: BLAKE3 of its decompressed bytes differs; nothing was stored`);
      return;
    }
    case 'artifact': {
      const bytes = await readAtMost(body, opts.maxArtifact, what);
      if (opts.checkArtifact) await opts.checkArtifact(unzstd(bytes, what));
      return;
    }
  }
}
