/**
 * Helpers for tests of replayed publishes (src/registry/replay.ts): holding one publish between its checks and its
 * transaction so another can commit first (the race a load balancer's retry can start), and row counts of every table
 * on either database (a race between identical publishes must leave what one publish leaves).
 */
import { sql } from 'kysely';
import type { Registry } from '../../src/registry/registry.js';

export interface HeldStage {
  /** Resolves when the first publish reached blob staging: its checks are done and found no such version. */
  reached: Promise<void>;
  /** Lets the held publish go on, into its transaction. */
  release(): void;
  /** Puts the blob store's own `stage` back. */
  restore(): void;
}

/**
 * Holds the first `registry.blobs.stage` call (a publish past its existence check, before its transaction) until
 * released; later calls go through. A publish of the same version sent meanwhile commits first, so the held one meets
 * the winner's row in its transaction.
 */
export function holdFirstStage(registry: Registry): HeldStage {
  const blobs = registry.blobs;
  const original = blobs.stage;
  let release!: () => void;
  let reach!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (reach = r));
  let first = true;
  blobs.stage = async (source, opts) => {
    if (first) {
      first = false;
      reach();
      await released;
    }
    return original.call(blobs, source, opts);
  };
  return { reached, release, restore: () => (blobs.stage = original) };
}

/** Every table's row count (SQLite or PostgreSQL), Kysely's own tables left out. */
export async function rowCounts(registry: Registry): Promise<Record<string, number>> {
  // Downloads counted by earlier reads are written every 5 s: write them now, or they land inside a later delta.
  await registry.downloads.flush();
  const names =
    registry.dialect === 'sqlite'
      ? sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'`
      : sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely_%'`;
  const counts: Record<string, number> = {};
  for (const { name } of (await names.execute(registry.db)).rows) {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(name)}`.execute(registry.db);
    counts[name] = Number(r.rows[0].n);
  }
  return counts;
}

/** What changed between two row counts, table by table (only tables whose count moved). */
export function countDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[name] ?? 0) - (before[name] ?? 0);
    if (d !== 0) delta[name] = d;
  }
  return delta;
}
