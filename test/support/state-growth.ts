/**
 * What a write added to the registry, for "a retried or concurrent write leaves the state one write
 * leaves" assertions: the rows each table gained and the blob files that appeared between two snapshots.
 * Two snapshots around two different writes of the same kind grow alike, whatever ids and times they hold.
 */
import type { RegistryState } from './state.js';

/** Rows gained per table (tables that did not change left out) and `blob files` gained. */
export function growth(before: RegistryState, after: RegistryState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [table, rows] of Object.entries(after.tables)) {
    const gained = rows.length - (before.tables[table]?.length ?? 0);
    if (gained !== 0) out[table] = gained;
  }
  const files = Object.keys(after.blobFiles).length - Object.keys(before.blobFiles).length;
  if (files !== 0) out['blob files'] = files;
  return out;
}
