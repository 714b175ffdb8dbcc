import type { AccessLineFormat } from './access-line.js';
import type { LineChunks } from './log-chunks.js';
import type { RequestId } from './request-id.js';

/** Request lines held as fields before they are formatted: ~16 KB of lines. */
const BATCH = 64;

/**
 * Request lines kept as their fields and formatted a batch at a time. Formatting a line runs a good deal of code
 * (string building, flattening, UTF-8 encoding) for a few microseconds; done between requests it evicted the request
 * path's own code from the CPU's caches, done 64 lines at a time it stays hot. A request only stores its fields.
 */
export class AccessBatch {
  private n = 0;
  private readonly times = new Float64Array(BATCH);
  private readonly durations = new Float64Array(BATCH);
  private readonly statuses = new Int32Array(BATCH);
  private readonly ids: RequestId[] = new Array<RequestId>(BATCH).fill('' as RequestId);
  private readonly methods: string[] = new Array<string>(BATCH).fill('');
  private readonly urls: string[] = new Array<string>(BATCH).fill('');
  private readonly repos: string[] = new Array<string>(BATCH).fill('');

  constructor(
    private readonly format: AccessLineFormat,
    private readonly chunks: LineChunks,
  ) {}

  get pending(): number {
    return this.n;
  }

  /** One request line (its time is now). */
  add(reqId: RequestId, method: string, url: string, status: number, ms: number, repo: string): void {
    const i = this.n;
    this.times[i] = Date.now();
    this.ids[i] = reqId;
    this.methods[i] = method;
    this.urls[i] = url;
    this.statuses[i] = status;
    this.durations[i] = ms;
    this.repos[i] = repo;
    if (++this.n === BATCH) this.drain();
  }

  /** Formats what is held into the chunks, in order: joined, so encoded as one string (a write per line cost more). */
  drain(): void {
    const { n, format, times, ids, methods, urls, statuses, durations, repos } = this;
    if (n === 0) return;
    const lines = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      lines[i] = format(times[i], ids[i], methods[i], urls[i], statuses[i], durations[i], repos[i]);
      // Not kept alive until overwritten (they would outlive a scavenge or two into the old generation).
      ids[i] = '' as RequestId;
      urls[i] = '';
    }
    this.n = 0;
    const text = lines.join('');
    this.chunks.append(text);
  }
}
