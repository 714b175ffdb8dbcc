import path from 'node:path';
import { findStaleStaging, removeStaleStaging } from '../storage/staging.js';
import type { Registry } from './registry.js';

export interface GcResult {
  kept: number;
  removed: string[];
  tmpRemoved: number;
}

/** Blobs and temporary files younger than this are left alone: a publish may be about to commit them. */
export const GC_GRACE_MS = 60 * 60 * 1000;

/**
 * Deletes stored blobs that no database row references (left by a crash or a refused publish
 * between blob commit and database commit) and stale temporary files. Every format records the
 * blobs it references in the `blobs` table, in the transaction that references them.
 */
export async function collectGarbage(
  registry: Registry,
  opts: { dryRun?: boolean; graceMs?: number; now?: number } = {},
): Promise<GcResult> {
  const grace = opts.graceMs ?? GC_GRACE_MS;
  const now = opts.now ?? Date.now();
  const referenced = new Set((await registry.db.selectFrom('blobs').select('sha256').execute()).map((r) => r.sha256));
  const result: GcResult = { kept: 0, removed: [], tmpRemoved: 0 };
  for await (const { sha256: sha, modifiedAt } of registry.blobs.list()) {
    if (referenced.has(sha) || now - modifiedAt < grace) {
      result.kept++;
      continue;
    }
    if (!opts.dryRun) await registry.blobs.delete(sha);
    result.removed.push(sha);
  }
  // A running process's staging directory is never touched, whatever the grace: its uploads are live.
  const stale = await findStaleStaging(path.join(registry.config.data, 'blobs', 'tmp'), { looseAgeMs: grace, now });
  result.tmpRemoved = opts.dryRun ? stale.files + stale.looseFiles.length : await removeStaleStaging(stale);
  return result;
}
