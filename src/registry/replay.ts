/**
 * Replays of publishes. A load balancer that retries a PUT (HAProxy `retry-on`, `option redispatch`) can repeat a
 * publish whose commit succeeded but whose answer was lost, or send it while the first attempt is still committing on
 * another node. A repeat with byte-identical content is answered as the success it was; formats decide that by
 * comparing what the publish would write with what is stored (never by running the write again). These are the steps
 * every format shares.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isUniqueViolation } from '../storage/db.js';

/** What a publish writes, by name (a document path, a column, "archive sha256"…): bytes or text; null or absent = not written. */
export type PublishedParts = Record<string, Uint8Array | string | null | undefined>;

/** The name of the first part that differs between what is stored and what a repeated publish would write; null when all agree. */
export function firstDifference(stored: PublishedParts, sent: PublishedParts): string | null {
  for (const name of new Set([...Object.keys(stored), ...Object.keys(sent)])) {
    if (!sameBytes(stored[name], sent[name])) return name;
  }
  return null;
}

function sameBytes(a: Uint8Array | string | null | undefined, b: Uint8Array | string | null | undefined): boolean {
  if (a == null || b == null) return a == null && b == null;
  const bytes = (v: Uint8Array | string) =>
    typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return bytes(a).equals(bytes(b));
}

/** The sha256 (hex) of a stream read to its end, keeping nothing: a repeated publish's artifact against the stored blob's digest. */
export async function streamSha256(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Runs a publish's write transaction; when it loses a race on a unique constraint (another request, on this node or
 * another, committed the same version first, so the winner's rows are now visible), answers with `lost()`: a fresh read
 * of what the winner stored, which returns success when identical and throws the format's usual refusal when not.
 */
export async function writeOrReplay<T>(write: () => Promise<T>, lost: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    return lost();
  }
}
