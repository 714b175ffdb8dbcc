import { firstDifference } from '../../registry/replay.js';
import { indexLineFromNewCrate, serializeIndexLine, type IndexLine } from './index-line.js';
import { storedMetadata, type NewCrate } from './new-crate.js';
import type { CargoVersionRow } from './schema.js';

/** The columns of a stored version a repeated publish is compared with. */
export type StoredVersion = Pick<CargoVersionRow, 'vers' | 'line' | 'cksum' | 'metadata'>;

/**
 * What a publish of `meta` (with a .crate hashing to `cksum`) would store that differs from the stored version, or null
 * when it would store exactly that: the .crate's sha256, the index line and the publish metadata (README, description…).
 * The line is compared with the stored `pubtime` and `yanked`: both belong to the first publish and to later yanks, not to
 * what the client sent (a replay after a yank is still the same publish). `published_by` is not compared: who sends the
 * same bytes again is a question for authorisation, which the caller has already asked.
 */
export function replayDifference(stored: StoredVersion, meta: NewCrate, ownIndexUrls: string[], cksum = stored.cksum): string | null {
  const storedLine = JSON.parse(stored.line) as IndexLine;
  const line = { ...indexLineFromNewCrate(meta, cksum, 0, ownIndexUrls), yanked: storedLine.yanked, pubtime: storedLine.pubtime };
  return firstDifference(
    { '.crate sha256': stored.cksum, 'index line': stored.line, 'publish metadata': stored.metadata },
    { '.crate sha256': cksum, 'index line': serializeIndexLine(line), 'publish metadata': storedMetadata(meta) },
  );
}
