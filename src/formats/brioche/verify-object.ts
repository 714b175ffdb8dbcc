/**
 * What Larder checks of a cache object before it stores it (protocols/brioche.md §4.4), whether a
 * client uploads it or a proxy fetches it: chunks must BLAKE3-hash to their name after zstd
 * decompression; `source.json` and `output.json` must have their one-field shape; artifact archives
 * must rebuild to the artifact their name hashes (artifact-archive.ts), from chunks already held.
 */
import type { Readable } from 'node:stream';
import { fail } from '../../core/errors.js';
import { MAX_CHUNK, MAX_CHUNK_DATA, verifyArtifactArchive, type ChunkLoader } from './artifact-archive.js';
import type { SourceArtifact } from '../../registry/source.js';
import { chunkKey, HASH, type CacheKey } from './keys.js';
import { unzstdBounded } from './zstd.js';
import { importCjs } from '../../core/cjs.js';

export { MAX_CHUNK } from './artifact-archive.js';

/** Largest JSON object (source.json, output.json) accepted: they hold one hash. */
const MAX_JSON = 4096;
/** zstd's default largest window for decoders (windowLog 27): brioche's levels use far less. */
const MAX_WINDOW = 128 * 1024 * 1024;

/** Reads a stream into memory, refusing past `max` bytes. */
export async function readAtMost(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > max) {
      body.destroy();
      fail('ARCHIVE_TOO_LARGE', `${what} is larger than ${max} bytes; nothing was stored`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
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

/** A ChunkLoader over a source's artifacts (hosted rows, or a proxy fetching and verifying on a miss). */
export function chunksFrom(artifact: (key: string) => Promise<SourceArtifact | null>): ChunkLoader {
  return async (hash) => {
    const found = await artifact(chunkKey(hash));
    return found ? readAtMost(found.blob.stream(), MAX_CHUNK, `cache object ${chunkKey(hash)}`) : null;
  };
}

/** Bounds and sources for verifying an object. */
export interface VerifyOptions {
  /** Largest `.bar.zst` accepted (limits.max_archive_size). */
  maxArtifact: number;
  /** Largest decompressed archive (limits.max_unpacked_size): a zstd bomb stops here. */
  maxUnpacked: number;
  /** The chunks an archive names, from the same repo (hosted rows, or the proxy's pull-through). */
  loadChunk: ChunkLoader;
}

/** Verifies an object's bytes against its key; rejects with a 4xx LarderError that names the key. */
export async function verifyCacheObject(key: CacheKey, body: Readable, opts: VerifyOptions): Promise<void> {
  const what = `cache object ${key.key}`;
  switch (key.kind) {
    case 'project-source':
      return checkHashObject(await readAtMost(body, MAX_JSON, what), 'artifactHash', what);
    case 'bake-output':
      return checkHashObject(await readAtMost(body, MAX_JSON, what), 'outputHash', what);
    case 'chunk': {
      const data = unzstdBounded(
        await readAtMost(body, MAX_CHUNK, what),
        { maxOutput: MAX_CHUNK_DATA, maxWindow: 2 * MAX_CHUNK_DATA },
        what,
      );
      if ((await (await importCjs(import('hash-wasm'))).blake3(data)) !== key.hash)
        fail('MANIFEST_MISMATCH', `${what} does not hash to its name: BLAKE3 of its decompressed bytes differs; nothing was stored`);
      return;
    }
    case 'artifact': {
      const zst = await readAtMost(body, opts.maxArtifact, what);
      const archive = unzstdBounded(
        zst,
        { maxOutput: opts.maxUnpacked, maxWindow: Math.min(MAX_WINDOW, Math.max(1 << 20, 2 * opts.maxUnpacked)) },
        what,
      );
      return verifyArtifactArchive(archive, key.hash, opts.loadChunk, what);
    }
  }
}
