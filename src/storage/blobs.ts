import type { Readable, Writable } from 'node:stream';

/** A blob written to a temporary place and hashed; nothing can read it until `commit`. */
export interface StagedBlob {
  readonly sha256: string;
  readonly size: number;
  /**
   * Moves the blob to its content address. Call it right before the database transaction
   * that references the blob commits: a crash in between leaves an unreferenced blob for
   * `larder gc`, never a reference to a missing blob.
   */
  commit(): Promise<void>;
  /** Removes the temporary file; safe to call after commit (then it does nothing); never throws. */
  discard(): Promise<void>;
}

export interface BlobHandle {
  size: number;
  stream(range?: { start: number; end: number }): Readable;
  /**
   * Writes the whole blob to `dest` (not ending it) through one reused buffer, waiting for each
   * write to be taken before reading on: constant memory, where a stream would leave a fresh
   * 64 KiB Buffer per chunk for the garbage collector (≈ 85 MB resident under 100 downloads).
   */
  copyTo(dest: Writable): Promise<void>;
}

/**
 * Content-addressed (sha256) storage of immutable bytes: archives, tarballs, crates. A store that cannot be reached
 * or used throws BLOB_STORE_UNAVAILABLE (503, Retry-After; see blob-errors.ts) from every method; a missing blob is
 * not an outage (`open` → null, `has` → false).
 */
export interface BlobStore {
  /**
   * Streams `source` to a temporary object, hashing while writing; rejects past `maxSize` bytes. On failure the
   * source is consumed or destroyed, never left waiting (a tee feeding it would stall). Bytes already in memory
   * may be given as they are (cheaper than a stream of them).
   */
  stage(source: Readable | Uint8Array, opts?: { maxSize?: number }): Promise<StagedBlob>;
  open(sha256: string): Promise<BlobHandle | null>;
  has(sha256: string): Promise<boolean>;
  delete(sha256: string): Promise<void>;
  /**
   * Resolves when the store can be used now, else throws BLOB_STORE_UNAVAILABLE saying why; cheap (one request or a
   * stat and a probe file) and bounded in time, for readiness reports.
   */
  check(): Promise<void>;
  /** Every stored blob with its write time, for garbage collection and consistency checks. */
  list(): AsyncIterable<{ sha256: string; modifiedAt: number }>;
  /** Removes staging files of processes that died (kill -9) before committing; returns how many. */
  reapStaging(): Promise<number>;
  /** Removes this process's staging directory at a clean shutdown. */
  close(): Promise<void>;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
