import { LarderError } from '../core/errors.js';
import { formatSize } from '../core/units.js';

/** Gives back what `acquire` reserved; calling it more than once is harmless. */
export type Release = () => void;

/**
 * The one bound on memory held by uploads buffered at once, shared by every repo and format of a
 * process. A request reserves its size before a byte of its body is read, waits in line (FIFO)
 * for at most `waitMs` when the budget is taken, and is then refused with 503 + Retry-After.
 */
export class UploadBudget {
  private used = 0;
  private readonly queue: Array<{ bytes: number; grant: () => void }> = [];

  constructor(
    readonly total: number,
    readonly waitMs: number,
  ) {}

  /** Bytes reserved right now (for tests and metrics). */
  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes`, waiting up to `waitMs` in line; refuses at once what could never fit. */
  async acquire(bytes: number): Promise<Release> {
    if (bytes > this.total) {
      throw new LarderError(
        'BODY_TOO_LARGE',
        `this upload is ${formatSize(bytes)}, more than the server buffers at once (uploads.memory = ${formatSize(this.total)}); send less at a time, or an operator can raise uploads.memory`,
      );
    }
    if (this.queue.length === 0 && this.used + bytes <= this.total) return this.grant(bytes);
    return new Promise<Release>((resolve, reject) => {
      const entry = { bytes, grant: () => resolve(this.grant(bytes)) };
      this.queue.push(entry);
      setTimeout(() => {
        const i = this.queue.indexOf(entry);
        if (i < 0) return;
        this.queue.splice(i, 1);
        this.drain();
        const retry = String(Math.max(1, Math.ceil(this.waitMs / 1000)));
        reject(
          new LarderError(
            'UPLOAD_BUDGET_EXHAUSTED',
            `the server is busy receiving other uploads (uploads.memory = ${formatSize(this.total)} in use); retry in ${retry} s`,
            { 'retry-after': retry },
          ),
        );
      }, this.waitMs).unref();
    });
  }

  private grant(bytes: number): Release {
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.drain();
    };
  }

  /** Grants waiting requests in order while the head of the line fits. */
  private drain(): void {
    while (this.queue.length && this.used + this.queue[0].bytes <= this.total) this.queue.shift()!.grant();
  }
}

/** What `reserveUpload` needs of a request and its reply; Fastify's fit without importing it. */
interface UploadRequest {
  headers: Record<string, string | string[] | undefined>;
  raw: { httpVersionMajor: number };
}
interface UploadReply {
  raw: { once(event: 'close' | 'finish', fn: () => void): unknown };
}

/**
 * A `preParsing` hook (runs after the credentials check, before any byte of the body is read)
 * that reserves the request's Content-Length from the budget until the response is over.
 * A body without Content-Length cannot be accounted for up front and is refused (411).
 */
export function reserveUpload(budget: UploadBudget) {
  return async <P>(req: UploadRequest, reply: UploadReply, payload: P): Promise<P> => {
    const length = req.headers['content-length'];
    if (length === undefined) {
      // HTTP/1.1 says a body without a length with Transfer-Encoding; HTTP/2 streams one after any request headers.
      const body =
        req.headers['transfer-encoding'] !== undefined || (req.raw.httpVersionMajor === 2 && req.headers['content-type'] !== undefined);
      if (body)
        throw new LarderError(
          'LENGTH_REQUIRED',
          'send the upload with a Content-Length header (the server reserves memory for it before reading it)',
        );
      return payload;
    }
    const bytes = Number(length);
    if (!Number.isSafeInteger(bytes) || bytes <= 0) return payload;
    // Listen first: a client that leaves while waiting in line must not keep its reservation.
    let over = false;
    let release: Release | null = null;
    const done = () => {
      over = true;
      release?.();
    };
    reply.raw.once('close', done);
    reply.raw.once('finish', done);
    release = await budget.acquire(bytes);
    if (over) release();
    return payload;
  };
}
