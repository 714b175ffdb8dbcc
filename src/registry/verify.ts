import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { BlobStore } from '../storage/blobs.js';
import { verifyProxyRepo } from '../upstream/proxy-verify.js';
import type { Registry } from './registry.js';

/** Progress of a long check: `done` of `total` items of one phase. */
export type VerifyProgress = (phase: string, done: number, total: number) => void;

export interface VerifyReport {
  /** What was checked, in order: `blobs re-hashed` → 120. */
  checked: Array<{ what: string; count: number }>;
  /** One line per problem; empty when the store is consistent. */
  problems: string[];
}

/** What re-hashing a stored blob showed. */
export type BlobState = { ok: true } | { ok: false; reason: string };

/**
 * Reads a blob through and hashes it: the bytes on disk or in the bucket must still be the bytes
 * whose sha256 names them (a flipped bit, a truncated copy, a restore from the wrong bucket).
 */
export async function rehashBlob(blobs: BlobStore, sha256: string, size?: number): Promise<BlobState> {
  const handle = await blobs.open(sha256);
  if (!handle) return { ok: false, reason: 'is missing from the blob store' };
  const hash = createHash('sha256');
  let read = 0;
  await handle.copyTo(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        read += chunk.length;
        cb();
      },
    }),
  );
  const actual = hash.digest('hex');
  if (actual !== sha256) return { ok: false, reason: `is corrupt: its ${read} bytes hash to ${actual}` };
  if (size !== undefined && read !== size) return { ok: false, reason: `has ${read} bytes where the database says ${size}` };
  return { ok: true };
}

/**
 * Re-hashes every blob the database lists, then lets each repo's format check its index
 * documents against its rows and the blobs they reference. Reads only; changes nothing.
 */
export async function verifyRegistry(registry: Registry, progress: VerifyProgress = () => {}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: [], problems: [] };
  const rows = await registry.db.selectFrom('blobs').select(['sha256', 'size']).orderBy('sha256').execute();
  const states = new Map<string, BlobState>();
  const sizes = new Map(rows.map((r) => [r.sha256, Number(r.size)]));
  let done = 0;
  for (const row of rows) {
    const state = await rehashBlob(registry.blobs, row.sha256, Number(row.size));
    states.set(row.sha256, state);
    if (!state.ok) report.problems.push(`blob ${row.sha256} ${state.reason}; restore it from a backup, or republish what references it`);
    progress('blobs', ++done, rows.length);
  }
  report.checked.push({ what: 'blobs re-hashed', count: rows.length });

  for (const repo of registry.repos.values()) {
    const plugin = registry.formats.get(repo.format);
    // A format checks its hosted rows; proxies share one check; a group holds nothing of its own.
    const check = repo.kind === 'proxy' ? verifyProxyRepo : repo.kind === 'hosted' ? plugin?.verify : undefined;
    if (!check) continue;
    progress(`repo ${repo.name}`, 0, 1);
    const found = await check(registry, repo);
    for (const [what, count] of Object.entries(found.checked)) report.checked.push({ what: `${repo.name}: ${what}`, count });
    report.problems.push(...found.problems.map((p) => `${repo.name}: ${p}`));
    for (const ref of found.references) {
      let state = states.get(ref.sha256);
      if (!state) {
        // Referenced by a row but not listed in `blobs`: gc would delete it.
        state = await rehashBlob(registry.blobs, ref.sha256, ref.size);
        report.problems.push(
          `${repo.name}: ${ref.what} references blob ${ref.sha256}, which the blobs table does not list (larder gc would delete it)`,
        );
        states.set(ref.sha256, state);
        if (!state.ok) report.problems.push(`blob ${ref.sha256} ${state.reason}`);
      }
      if (!state.ok) report.problems.push(`${repo.name}: ${ref.what} needs blob ${ref.sha256}, which ${state.reason}`);
      else if (sizes.has(ref.sha256) && sizes.get(ref.sha256) !== Number(ref.size))
        report.problems.push(
          `${repo.name}: ${ref.what} records ${ref.size} bytes for blob ${ref.sha256}, which has ${sizes.get(ref.sha256)}`,
        );
    }
    report.checked.push({ what: `${repo.name}: blob references`, count: found.references.length });
    progress(`repo ${repo.name}`, 1, 1);
  }
  return report;
}
