import fs from 'node:fs';
import path from 'node:path';
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
export async function collectGarbage(registry: Registry, opts: { dryRun?: boolean; graceMs?: number; now?: number } = {}): Promise<GcResult> {
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
  const tmp = path.join(registry.config.data, 'blobs', 'tmp');
  for (const name of fs.existsSync(tmp) ? fs.readdirSync(tmp) : []) {
    const file = path.join(tmp, name);
    if (now - fs.statSync(file).mtimeMs < grace) continue;
    if (!opts.dryRun) fs.rmSync(file, { force: true });
    result.tmpRemoved++;
  }
  return result;
}
