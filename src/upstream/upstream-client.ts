/**
 * The client of one upstream a proxy repository reads (crates.io's index, the BCR, a Pkg server, another
 * Larder): conditional GETs of small documents and streamed downloads of archives, a few requests in
 * flight at once, GETs retried with backoff when the upstream is briefly unwell, sizes capped and
 * archives hashed while they stream, truncation detected. Obtained from `OutboundClient.upstream()`.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { fail, LarderError, type ErrorCode } from '../core/errors.js';
import { formatSize } from '../core/units.js';
import { USER_AGENT } from '../core/version.js';
import { findRefusal, loadUndici, refuse, type OutboundClient } from './outbound.js';
import { Semaphore } from './semaphore.js';

/** How one upstream is reached. */
export interface UpstreamOptions {
  /**
   * True for a URL the operator wrote in larder.toml: it may point anywhere (127.0.0.1 included) and goes
   * through HTTPS_PROXY/HTTP_PROXY unless NO_PROXY lists it. False for URLs a request named: the address
   * rules apply on every hop and failures never echo the status.
   */
  trusted: boolean;
  /** Requests in flight to this upstream at once; [outbound] concurrency when unset. */
  concurrency?: number;
  /** Called once per attempt, e.g. to count upstream requests in metrics. */
  onRequest?: (event: UpstreamRequestEvent) => void;
  /** The first pause before a retry (it doubles each time, with jitter); 250 ms when unset. */
  retryDelayMs?: number;
  /** The longest pause a Retry-After header is honoured for; 30 s when unset. */
  maxRetryAfterMs?: number;
}

/** One attempt at one request, as reported to `onRequest`. */
export interface UpstreamRequestEvent {
  /** The upstream's host (and port). */
  upstream: string;
  url: string;
  /** 1 for the first try. */
  attempt: number;
  /** The status answered, or what went wrong before one was. */
  outcome: number | 'timeout' | 'connection';
  durationMs: number;
}

/** A GET of a document small enough to hold in memory. */
export interface GetOptions {
  /** Refuse answers larger than this many bytes. */
  maxSize: number;
  /** The ETag of the copy we hold: a 304 answer means it is still current. */
  ifNoneMatch?: string;
  /** The Last-Modified of the copy we hold. */
  ifModifiedSince?: string;
  accept?: string;
  headers?: Record<string, string>;
}

/** What a GET found: the document, "what you have is current", or "there is no such thing". */
export type UpstreamDocument =
  | { status: 200; body: Buffer; etag?: string; lastModified?: string; headers: IncomingHttpHeaders }
  | { status: 304; etag?: string; lastModified?: string; headers: IncomingHttpHeaders }
  | { status: 404 };

/** A streamed download of an archive. */
export interface StreamOptions {
  /** The stream fails past this many bytes (before reading any when Content-Length says so). */
  maxSize: number;
  /** The sha256 (hex) the index promised: the stream fails instead of ending when the bytes differ. */
  sha256?: string;
  /** Called with each chunk as it passes. */
  onChunk?: (chunk: Buffer) => void;
  accept?: string;
  headers?: Record<string, string>;
}

/** An archive being downloaded. Read `body` to its end (or destroy it): it holds one of the upstream's slots. */
export interface UpstreamArtifact {
  status: 200;
  /** The bytes; it errors (a LarderError) on truncation, a stall, the size cap or a sha256 mismatch. */
  body: Readable;
  /** The Content-Length the upstream declared, if any. */
  length?: number;
  etag?: string;
  lastModified?: string;
  headers: IncomingHttpHeaders;
  /** The sha256 and size of what was read, once `body` has ended cleanly; null before. */
  digest(): { sha256: string; size: number } | null;
}

/** Why an attempt failed in a way worth trying again. */
type Failure =
  | { kind: 'status'; status: number; retryAfterMs?: number }
  | { kind: 'timeout'; setting: 'connect_timeout' | 'headers_timeout' | 'body_timeout' | 'timeout' }
  | { kind: 'connection'; reason: string };

/** A body shorter than its Content-Length (undici normally notices first). */
class Truncated extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** The client of one upstream: see the file comment. */
export class UpstreamClient {
  readonly base: URL;
  /** The upstream's slots: requests beyond the limit wait for one. */
  readonly slots: Semaphore;
  private readonly retryDelayMs: number;
  private readonly maxRetryAfterMs: number;

  constructor(
    private readonly outbound: OutboundClient,
    baseUrl: string,
    private readonly opts: UpstreamOptions,
  ) {
    if (!URL.canParse(baseUrl)) fail('CONFIG_INVALID', `upstream ${baseUrl} is not a URL`);
    this.base = new URL(baseUrl);
    this.slots = new Semaphore(opts.concurrency ?? outbound.config.concurrency);
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
  }

  /** The upstream's host, as messages name it. */
  get host(): string {
    return this.base.host;
  }

  /**
   * GETs a document (relative to the base URL, or absolute): 200 with its body, 304 when `ifNoneMatch`
   * still holds, 404 (or 410) as "not there". Anything else fails with UPSTREAM_FAILED (502) or
   * UPSTREAM_TIMEOUT (504) after the retries [outbound] allows; 404 is never retried.
   */
  async get(path: string, opts: GetOptions): Promise<UpstreamDocument> {
    const headers = this.headers(opts);
    if (opts.ifNoneMatch) headers['if-none-match'] = opts.ifNoneMatch;
    if (opts.ifModifiedSince) headers['if-modified-since'] = opts.ifModifiedSince;
    return this.exchange(path, headers, true, async (res, url) => {
      const status = res.statusCode;
      if (status === 404 || status === 410) {
        await res.body.dump().catch(() => {});
        return { status: 404 };
      }
      if (status === 304) {
        await res.body.dump().catch(() => {});
        return { status: 304, ...validators(res.headers), headers: res.headers };
      }
      if (status !== 200) {
        await res.body.dump().catch(() => {});
        this.unexpected(status, url);
      }
      const body = await this.readAll(res, url, opts.maxSize);
      return { status: 200, body, ...validators(res.headers), headers: res.headers };
    });
  }

  /**
   * GETs an archive and hands back its body as a stream, hashed (sha256) and size-capped as it flows.
   * Failures before the answer's headers are retried like `get`; once bytes flow, a failure errors the
   * stream (never a short or wrong success), and the caller decides whether to try again.
   */
  async stream(path: string, opts: StreamOptions): Promise<UpstreamArtifact | { status: 404 }> {
    return this.exchange(path, this.headers(opts), false, async (res, url, hold) => {
      const status = res.statusCode;
      if (status === 404 || status === 410) {
        await res.body.dump().catch(() => {});
        return { status: 404 };
      }
      if (status !== 200) {
        await res.body.dump().catch(() => {});
        this.unexpected(status, url);
      }
      const declared = contentLength(res.headers);
      if (declared !== undefined && declared > opts.maxSize) {
        discard(res.body);
        this.tooLarge(url, opts.maxSize);
      }
      const release = hold();
      const hash = createHash('sha256');
      let size = 0;
      let digest: { sha256: string; size: number } | null = null;
      const guarded = new Transform({
        transform: (chunk: Buffer, _enc, callback) => {
          size += chunk.length;
          if (size > opts.maxSize) return callback(this.tooLargeError(url, opts.maxSize));
          hash.update(chunk);
          opts.onChunk?.(chunk);
          callback(null, chunk);
        },
        flush: (callback) => {
          if (declared !== undefined && size !== declared) return callback(this.brokeOff(url, size, declared));
          const sha256 = hash.digest('hex');
          if (opts.sha256 && sha256 !== opts.sha256.toLowerCase()) {
            return callback(
              new LarderError('UPSTREAM_FAILED', `${this.what(url)} does not match the sha256 its index promised; nothing was stored`),
            );
          }
          digest = { sha256, size };
          callback();
        },
      });
      res.body.on('error', (err) => guarded.destroy(this.bodyError(err, url, size, declared)));
      guarded.on('close', () => {
        release();
        if (!res.body.destroyed) res.body.destroy();
      });
      res.body.pipe(guarded);
      return {
        status: 200,
        body: guarded,
        length: declared,
        ...validators(res.headers),
        headers: res.headers,
        digest: () => digest,
      };
    });
  }

  /**
   * Runs one request with retries: each attempt takes a slot, sends (following redirects), and lets
   * `handle` read the answer unless it is a 5xx or 429. `hold` keeps the slot past the attempt (a stream
   * gives it back when it closes). Errors `handle` throws as LarderError end the request; others retry.
   */
  private async exchange<T>(
    path: string,
    headers: Record<string, string>,
    deadline: boolean,
    handle: (res: Dispatcher.ResponseData, url: URL, hold: () => () => void) => Promise<T>,
  ): Promise<T> {
    const url = this.resolve(path);
    const attempts = this.outbound.config.retries + 1;
    let failure: Failure = { kind: 'connection', reason: 'no attempt was made' };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const release = await this.slots.acquire();
      let held = false;
      const hold = () => {
        held = true;
        return release;
      };
      const started = performance.now();
      let outcome: UpstreamRequestEvent['outcome'] = 'connection';
      const signal = deadline ? AbortSignal.timeout(this.outbound.config.timeoutMs) : undefined;
      try {
        const { res, final } = await this.send(url, headers, signal);
        outcome = res.statusCode;
        if (res.statusCode === 429 || res.statusCode >= 500) {
          await res.body.dump().catch(() => {});
          failure = { kind: 'status', status: res.statusCode, retryAfterMs: retryAfter(res.headers['retry-after']) };
        } else {
          return await handle(res, final, hold);
        }
      } catch (err) {
        if (err instanceof LarderError) throw err;
        failure = classify(err, signal);
        outcome = failure.kind === 'timeout' ? 'timeout' : 'connection';
      } finally {
        if (!held) release();
        this.opts.onRequest?.({ upstream: this.host, url: url.href, attempt, outcome, durationMs: performance.now() - started });
      }
      if (attempt < attempts) await sleep(this.pause(attempt, failure));
    }
    this.giveUp(failure, url, attempts);
  }

  /** Sends a GET, following redirects by hand (each hop checked unless the upstream is trusted). */
  private async send(
    url: URL,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ res: Dispatcher.ResponseData; final: URL }> {
    let current = url;
    for (let hop = 0; ; hop++) {
      if (!this.opts.trusted) current = this.outbound.checkUrl(current.href, url.href, hop, 'upstream URL');
      else if (current.protocol !== 'https:' && current.protocol !== 'http:')
        fail('UPSTREAM_FAILED', `upstream ${this.host} redirects ${display(url)} to a URL that is not http or https`);
      let res: Dispatcher.ResponseData;
      try {
        const [{ request }, dispatcher] = await Promise.all([loadUndici(), this.outbound.dispatcher(this.opts.trusted)]);
        res = await request(current, { method: 'GET', headers, signal, dispatcher });
      } catch (err) {
        const refused = findRefusal(err);
        if (refused) refuse(url.href, hop, refused, 'upstream URL');
        throw err;
      }
      if (!REDIRECTS.has(res.statusCode)) return { res, final: current };
      const location = res.headers.location;
      await res.body.dump().catch(() => {});
      if (typeof location !== 'string' || !URL.canParse(location, current))
        fail('UPSTREAM_FAILED', `${this.what(url)}: it answered a redirect without a usable Location`);
      if (hop >= MAX_REDIRECTS) fail('UPSTREAM_FAILED', `${this.what(url)}: it redirects more than ${MAX_REDIRECTS} times`);
      current = new URL(location, current);
    }
  }

  /** A path under the base URL, or an absolute URL (a trusted upstream only on its own origin). */
  private resolve(path: string): URL {
    const base = this.base.href.endsWith('/') ? this.base : new URL(`${this.base.href}/`);
    const url = URL.canParse(path, base) ? new URL(path.replace(/^\/+/, ''), base) : null;
    if (!url || !/^https?:$/.test(url.protocol)) fail('URL_NOT_ALLOWED', `${JSON.stringify(path)} is not an http or https URL`);
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
      const absolute = new URL(path);
      if (this.opts.trusted && absolute.origin !== this.base.origin)
        fail(
          'URL_NOT_ALLOWED',
          `${display(absolute)} is not on upstream ${this.base.origin}: a trusted upstream fetches only its own URLs`,
        );
      return absolute;
    }
    return url;
  }

  private headers(opts: { accept?: string; headers?: Record<string, string> }): Record<string, string> {
    const headers: Record<string, string> = { ...opts.headers, 'user-agent': USER_AGENT };
    if (opts.accept) headers.accept = opts.accept;
    return headers;
  }

  /** Reads a whole body within `maxSize`, refusing a short one. */
  private async readAll(res: Dispatcher.ResponseData, url: URL, maxSize: number): Promise<Buffer> {
    const declared = contentLength(res.headers);
    if (declared !== undefined && declared > maxSize) {
      discard(res.body);
      this.tooLarge(url, maxSize);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > maxSize) this.tooLarge(url, maxSize); // leaving the loop destroys the body
      chunks.push(chunk as Buffer);
    }
    if (declared !== undefined && size !== declared) throw new Truncated(`${size} of ${declared} bytes`);
    return Buffer.concat(chunks);
  }

  /** The pause before attempt `attempt + 1`: Retry-After when given (capped), else exponential with jitter. */
  private pause(attempt: number, failure: Failure): number {
    if (failure.kind === 'status' && failure.retryAfterMs !== undefined) return Math.min(failure.retryAfterMs, this.maxRetryAfterMs);
    const ceiling = this.retryDelayMs * 2 ** (attempt - 1);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** "upstream host: GET url" for trusted upstreams; the URL alone for URLs from requests. */
  private what(url: URL): string {
    return this.opts.trusted ? `upstream ${this.host}: GET ${display(url)}` : `upstream URL ${display(url)}`;
  }

  private unexpected(status: number, url: URL): never {
    if (!this.opts.trusted) fail('UPSTREAM_FAILED', `${this.what(url)}: the server did not answer with the file`);
    fail('UPSTREAM_FAILED', `${this.what(url)} answered ${status}, which a proxy cannot serve`);
  }

  private tooLargeError(url: URL, maxSize: number): LarderError {
    // A URL from a request is the request's fault (413); a configured upstream's answer is the upstream's (502).
    const code: ErrorCode = this.opts.trusted ? 'UPSTREAM_FAILED' : 'ARCHIVE_TOO_LARGE';
    return new LarderError(code, `${this.what(url)} is larger than the ${formatSize(maxSize)} limit`);
  }

  private tooLarge(url: URL, maxSize: number): never {
    throw this.tooLargeError(url, maxSize);
  }

  private brokeOff(url: URL, size: number, declared: number | undefined): LarderError {
    const of = declared !== undefined ? ` of ${declared}` : '';
    return new LarderError('UPSTREAM_FAILED', `${this.what(url)}: the connection broke off after ${size}${of} bytes; nothing was stored`);
  }

  /** What an error of a flowing body means to the reader. */
  private bodyError(err: unknown, url: URL, size: number, declared: number | undefined): LarderError {
    if (err instanceof LarderError) return err;
    if (codeOf(err) === 'UND_ERR_BODY_TIMEOUT') {
      return new LarderError(
        'UPSTREAM_TIMEOUT',
        `${this.what(url)}: it sent nothing for longer than [outbound] body_timeout (${seconds(this.outbound.config.bodyTimeoutMs)}); nothing was stored`,
      );
    }
    return this.brokeOff(url, size, declared);
  }

  /** The error after the last attempt. */
  private giveUp(failure: Failure, url: URL, attempts: number): never {
    const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
    const what = this.what(url);
    if (failure.kind === 'timeout') {
      const limit =
        failure.setting === 'timeout'
          ? this.outbound.config.timeoutMs
          : failure.setting === 'connect_timeout'
            ? this.outbound.config.connectTimeoutMs
            : failure.setting === 'headers_timeout'
              ? this.outbound.config.headersTimeoutMs
              : this.outbound.config.bodyTimeoutMs;
      fail('UPSTREAM_TIMEOUT', `${what}: no answer within [outbound] ${failure.setting} (${seconds(limit)})${tries}`);
    }
    if (!this.opts.trusted) {
      fail('UPSTREAM_FAILED', `${what}: the connection failed or the server did not answer with the file${tries}`);
    }
    if (failure.kind === 'status') fail('UPSTREAM_FAILED', `${what} answered ${failure.status}${tries}`);
    fail('UPSTREAM_FAILED', `${what}: ${failure.reason}${tries}`);
  }
}

/** Drops a body not to be read (undici's body reports its own destruction as an error: keep it quiet). */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

/** ETag and Last-Modified of an answer, when it has them. */
function validators(headers: IncomingHttpHeaders): { etag?: string; lastModified?: string } {
  const out: { etag?: string; lastModified?: string } = {};
  if (typeof headers.etag === 'string') out.etag = headers.etag;
  if (typeof headers['last-modified'] === 'string') out.lastModified = headers['last-modified'];
  return out;
}

function contentLength(headers: IncomingHttpHeaders): number | undefined {
  const v = headers['content-length'];
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfter(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The undici or Node error code behind an error (undici wraps socket errors in `cause`). */
function codeOf(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (typeof e.code === 'string' && e.code !== 'UND_ERR_ABORTED' && e.code !== 'UND_ERR_SOCKET') return e.code;
  }
  return (err as { code?: string } | undefined)?.code;
}

/** What went wrong on the way, worded for an operator (never what the far side said). */
function classify(err: unknown, signal: AbortSignal | undefined): Failure {
  if (signal?.aborted) return { kind: 'timeout', setting: 'timeout' };
  const code = codeOf(err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'timeout', setting: 'connect_timeout' };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'timeout', setting: 'headers_timeout' };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', setting: 'body_timeout' };
  if (err instanceof Truncated) return { kind: 'connection', reason: `the connection broke off after ${err.message}` };
  if (code === 'ECONNREFUSED') return { kind: 'connection', reason: 'the connection was refused (is the upstream up?)' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'connection', reason: 'its host name does not resolve' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED')
    return { kind: 'connection', reason: 'the connection closed before the answer was complete' };
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/.test(code))
    return { kind: 'connection', reason: 'its TLS certificate is not trusted (an internal CA goes in [outbound] ca_file)' };
  return { kind: 'connection', reason: 'the connection failed' };
}

/** A URL as messages show it: no credentials, no query (either may hold a secret). */
function display(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
