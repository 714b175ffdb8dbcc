/**
 * Writes to a hosted Brioche cache (protocols/brioche.md §3.3): create-only, content-addressed,
 * verified before anything is stored. The S3 endpoint (FormatCore.objectStore) and the HTTP
 * `PUT … If-None-Match: *` route both come here.
 */
import { Readable } from 'node:stream';
import { fail } from '../../core/errors.js';
import { sha256Hex } from '../../core/hash.js';
import { requireHosted } from '../../http/gates.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { storeBlob } from '../../registry/blob-records.js';
import type { ObjectStoreParts } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import { parseCacheKey } from './keys.js';
import { briocheDb, type BriocheTables } from './store.js';
import { chunksFrom, readAtMost, verifyCacheObject } from './verify-object.js';

/** The message for a key that is none of the four shapes. */
export const KEY_SHAPES =
  'cache keys are projects/<hash>/source.json, artifacts/<hash>.bar.zst, chunks/<hash>.zst or bakes/<hash>/output.json (64 lower-case hex)';

/** The sha256 of the object a hosted repo holds at `key`, or null. */
async function held(registry: Registry, repo: Repo, key: string): Promise<string | null> {
  const row = await briocheDb(registry)
    .selectFrom('brioche_objects')
    .select('sha256')
    .where('repo_id', '=', repo.id)
    .where('key', '=', key)
    .executeTakeFirst();
  return row?.sha256 ?? null;
}

/** Lets the rest of a refused or unneeded body go by without keeping it. */
function drain(body: Readable): void {
  body.on('error', () => {});
  body.resume();
}

/**
 * Stores a cache object create-only: `created: false` when the key exists; otherwise the bytes are verified
 * (verify-object.ts; an artifact's chunks must already be in this repo), staged and recorded in one
 * transaction. A refusal is a 4xx and stores nothing. For a key that exists, a create-only write's body is
 * drained, not read; any other write's body is read and compared (`sameBytes`), so that a retried PUT can be
 * told from one that would change an object.
 */
export async function putObject(
  registry: Registry,
  repo: Repo,
  p: Principal,
  key: string,
  body: Readable,
  options: PutObjectOptions = {},
): Promise<PutObjectResult> {
  try {
    requireHosted(repo);
    const k = parseCacheKey(key);
    if (!k) fail('NAME_INVALID', `"${key}" is not a Brioche cache key: ${KEY_SHAPES}`);
    // Cache objects belong to no project: writing one needs publish on the repo.
    requirePermission(p, 'publish', repo.name);
    const { maxArchiveSize, maxUnpackedSize } = registry.config.limits;
    const existing = await held(registry, repo, key);
    if (existing && options.createOnly !== false) {
      drain(body);
      return { created: false, sha256: existing };
    }
    if (existing) {
      const sent = await readAtMost(body, maxArchiveSize, `cache object ${key}`);
      return { created: false, sha256: existing, sameBytes: sha256Hex(sent) === existing };
    }
    // Everything verify-object checks is read whole (an archive is decoded in memory), so the bytes are read once, bounded.
    const bytes = await readAtMost(body, maxArchiveSize, `cache object ${key}`);
    const source = registry.sources.get(repo.name);
    await verifyCacheObject(k, Readable.from([bytes]), {
      maxArtifact: maxArchiveSize,
      maxUnpacked: maxUnpackedSize,
      loadChunk: chunksFrom(async (chunk) => (source ? source.artifact(chunk) : null)),
    });
    const staged = await registry.blobs.stage(Readable.from([bytes]), { maxSize: maxArchiveSize });
    try {
      const created = await inTransaction(registry, async (uow) => {
        const result = await uow.trx
          .withTables<BriocheTables>()
          .insertInto('brioche_objects')
          .values({ repo_id: repo.id, key, sha256: staged.sha256, size: staged.size, created_at: Date.now(), created_by: p.userId })
          .onConflict((oc) => oc.columns(['repo_id', 'key']).doNothing())
          .executeTakeFirst();
        const inserted = Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
        // The blob only with the row that names it: a create that lost the race leaves no blob (nor `blobs` row) behind.
        if (inserted) await storeBlob(uow, staged);
        return inserted;
      });
      if (created) return { created, sha256: staged.sha256 };
      // A concurrent create won (on PostgreSQL the insert waited for it to commit): its bytes are the ones kept.
      await staged.discard();
      const stored = (await held(registry, repo, key)) ?? staged.sha256;
      return { created, sha256: stored, sameBytes: stored === staged.sha256 };
    } catch (err) {
      await staged.discard();
      throw err;
    }
  } catch (err) {
    drain(body);
    throw err;
  }
}

/** How a cache object is written: create-only (`If-None-Match: *`, what brioche sends) unless said otherwise. */
export interface PutObjectOptions {
  createOnly?: boolean;
}

/** What a write did: `created`, or not because the key holds an object (`sha256`: the stored one). */
export interface PutObjectResult {
  created: boolean;
  sha256: string;
  /** When not created: whether the bytes sent are the stored ones (unknown for a create-only write of a key that existed). */
  sameBytes?: boolean;
}

/** Brioche's part of Larder's S3-compatible endpoint: bucket = repo, objects = cache keys. */
export const briocheObjectStore: ObjectStoreParts = { putObject };
