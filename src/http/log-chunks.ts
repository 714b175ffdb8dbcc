/** Bytes a chunk holds; text that might need more gets a buffer of its own. */
const CHUNK_BYTES = 256 * 1024;
/**
 * Written out once this much is pending: one write per ~500 request lines. Each write goes through libuv's thread pool
 * (~25 µs of the event loop's time to hand over, more when a full pipe splits it): at 32 KiB that was ~0.8 µs a request.
 */
const FLUSH_BYTES = 128 * 1024;
/** Below this much room a chunk is replaced rather than written on after its written part. */
const MIN_ROOM = 64 * 1024;

/**
 * Takes bytes handed out: true when it is done with them when it returns (written synchronously), so their space may
 * be written again; otherwise it may keep them (an asynchronous write) and they are never written again.
 */
export type LineSink = (bytes: Buffer) => boolean | void;

/**
 * Log lines encoded into a byte chunk as they come, handed to `sink` in batches. A line's string is garbage as soon
 * as it is added: no array of pending strings lives through a scavenge into the old generation. A sink that writes
 * synchronously gets the same chunk over and over: each new 256 KiB chunk (one per ~1,000 requests) counts toward the
 * external memory at which V8 starts a major collection of the whole heap (issue 14).
 */
export class LineChunks {
  /** The whole buffer `chunk` is the unwritten rest of. */
  private base = Buffer.allocUnsafe(CHUNK_BYTES);
  private chunk = this.base;
  private used = 0;
  /** Whether the sink kept any bytes of `base`: then none of it is written again. */
  private kept = false;

  constructor(private readonly sink: LineSink) {}

  get pendingBytes(): number {
    return this.used;
  }

  /**
   * Adds text: one line or several (newlines included), as UTF-8. Its byte length is counted first (a fast pass):
   * cheaper than telling ASCII text by a pattern to copy it as Latin-1, and room is never reserved for bytes that
   * do not come.
   */
  append(text: string): void {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.chunk.length - this.used) {
      this.flush();
      if (bytes > this.chunk.length) {
        if (bytes > CHUNK_BYTES) {
          this.sink(Buffer.from(text, 'utf8'));
          return;
        }
        this.fresh();
      }
    }
    this.used += this.chunk.write(text, this.used, bytes, 'utf8');
    if (this.used >= FLUSH_BYTES) this.flush();
  }

  /** Hands what is pending to the sink; the rest of the chunk takes the next lines (all of it, if the sink is done). */
  flush(): void {
    if (this.used === 0) return;
    const out = this.chunk.subarray(0, this.used);
    const rest = this.chunk.length - this.used;
    this.used = 0;
    if (this.sink(out) === true && !this.kept) this.chunk = this.base;
    else {
      this.kept = true;
      if (rest >= MIN_ROOM) this.chunk = this.chunk.subarray(this.chunk.length - rest);
      else this.fresh();
    }
  }

  private fresh(): void {
    this.base = this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.kept = false;
  }
}
