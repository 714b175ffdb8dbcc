import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';

/**
 * Answers of `git-upload-pack` that a later identical request may be given again. A clone (wants and `done`, no
 * `have`) asks for the objects reachable from object ids, which never change, so the pack git made for one clone is a
 * right answer to every identical request while the repository lasts: a fleet of CI jobs cloning the same index
 * spawns git and compresses objects once. Negotiation rounds (`have` lines) depend on what the repository holds, so
 * they always go to git.
 */
export interface CachedPack {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The largest request body read in full to decide whether its answer can come from the cache. */
export const PACK_REQUEST_LIMIT = 256 * 1024;
/** The largest answer kept; a clone of a bigger history always runs git. */
const PACK_ANSWER_LIMIT = 8 * 1024 * 1024;
/** Bytes of answers a process keeps. */
const PACK_CACHE_BUDGET = 64 * 1024 * 1024;

/** The pkt-line payloads of a request body (flush, delimiter and response-end packets skipped), or null if malformed. */
function pktLines(body: Buffer): string[] | null {
  const lines: string[] = [];
  let at = 0;
  while (at < body.length) {
    if (at + 4 > body.length) return null;
    const len = Number.parseInt(body.toString('latin1', at, at + 4), 16);
    if (!Number.isInteger(len) || len < 0) return null;
    if (len < 4) {
      at += 4;
      continue;
    }
    if (at + len > body.length) return null;
    lines.push(body.toString('latin1', at + 4, at + len).replace(/\n$/, ''));
    at += len;
  }
  return lines;
}

/** Whether a request asks only for objects reachable from its wants (a clone, shallow or not): no `have`, ends in `done`. */
export function isCloneRequest(body: Buffer, contentEncoding: string): boolean {
  let plain = body;
  if (contentEncoding === 'gzip') {
    try {
      plain = gunzipSync(body, { maxOutputLength: PACK_REQUEST_LIMIT });
    } catch {
      return false;
    }
  } else if (contentEncoding !== '') return false;
  const lines = pktLines(plain);
  if (!lines) return false;
  // Protocol v2 sends other commands (ls-refs) to the same URL: only a fetch is a pack.
  if (lines.some((l) => l.startsWith('command=')) && !lines.includes('command=fetch')) return false;
  return lines.includes('done') && lines.some((l) => l.startsWith('want ')) && !lines.some((l) => l.startsWith('have '));
}

/** A process's cache of clone answers, bounded by bytes. */
export class PackCache {
  private readonly entries = new LRUCache<string, CachedPack>({
    maxSize: PACK_CACHE_BUDGET,
    sizeCalculation: (p) => p.body.length + 256,
  });
  hits = 0;
  misses = 0;

  /** Bytes held (as accounted against the budget). */
  get bytes(): number {
    return this.entries.calculatedSize;
  }

  /** The key of a request: the repository's directory, the protocol asked for, and the body's bytes. */
  key(dir: string, protocol: string, contentEncoding: string, body: Buffer): string {
    return createHash('sha256').update(`${dir}\0${protocol}\0${contentEncoding}\0`).update(body).digest('base64url');
  }

  get(key: string): CachedPack | undefined {
    const hit = this.entries.get(key);
    if (hit) this.hits++;
    else this.misses++;
    return hit;
  }

  /** Keeps a complete, successful answer small enough to be worth holding. */
  set(key: string, pack: CachedPack): void {
    if (pack.status === 200 && pack.body.length <= PACK_ANSWER_LIMIT) this.entries.set(key, pack);
  }

  /** Whether an answer of this many bytes so far may still be kept (collecting stops past it). */
  fits(bytes: number): boolean {
    return bytes <= PACK_ANSWER_LIMIT;
  }
}

/** The one cache of this process (every format's git views share it; keys name the repository directory). */
export const packCache = new PackCache();
