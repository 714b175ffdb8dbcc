/**
 * What a proxy asks of its upstream: a document (conditional GET) and an archive (a stream). One
 * implementation over undici; failures become LarderErrors that never read as "not found".
 */
import { Readable } from 'node:stream';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { fail } from '../core/errors.js';
import type { OutboundClient } from './outbound.js';

/** An upstream's answer to a document request. */
export type UpstreamDocument = { status: 200; body: Buffer; etag: string | null } | { status: 304 } | { status: 404 };

/** The two requests a proxy makes. */
export interface UpstreamFetch {
  /** GETs a document, with If-None-Match when a copy is held; a 404/410 is `{status: 404}`, anything else not 2xx/304 throws. */
  document(url: string, ifNoneMatch: string | null, maxSize: number): Promise<UpstreamDocument>;
  /** Opens an archive for streaming, or null on 404/410; `trusted` URLs (the operator's upstream) skip the address rules. */
  archive(url: string, opts: { trusted: boolean; maxSize: number; what: string }): Promise<Readable | null>;
  close(): Promise<void>;
}

const USER_AGENT = 'larder (+https://github.com/larder)';
const host = (url: string) => new URL(url).host;

/** The upstream client of one server: operator-configured upstreams directly, request-named URLs through `outbound`. */
export function upstreamFetch(outbound: OutboundClient): UpstreamFetch {
  const pool = new Agent({ connectTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  // pkg.julialang.org answers with redirects to a regional server.
  const agent: Dispatcher = pool.compose(interceptors.redirect({ maxRedirections: 5 }));
  const timeout = () => AbortSignal.timeout(outbound.config.timeoutMs);
  const unreachable = (url: string): never =>
    fail('UPSTREAM_FAILED', `the upstream ${host(url)} could not be reached (connection failed or timed out); try again later`);
  return {
    async document(url, ifNoneMatch, maxSize) {
      const res = await request(url, {
        dispatcher: agent,
        signal: timeout(),
        headers: { 'user-agent': USER_AGENT, ...(ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {}) },
      }).catch(() => unreachable(url));
      if (res.statusCode === 304) {
        await res.body.dump();
        return { status: 304 };
      }
      if (res.statusCode === 404 || res.statusCode === 410) {
        await res.body.dump();
        return { status: 404 };
      }
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {});
        fail('UPSTREAM_FAILED', `the upstream ${host(url)} answered ${res.statusCode} for ${new URL(url).pathname}; try again later`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const c of res.body) {
          size += (c as Buffer).length;
          if (size > maxSize) fail('UPSTREAM_FAILED', `the upstream ${host(url)} sent a document larger than ${maxSize} bytes`);
          chunks.push(c as Buffer);
        }
      } catch (err) {
        if ((err as { code?: string }).code === 'UPSTREAM_FAILED') throw err;
        unreachable(url);
      }
      const etag = res.headers.etag;
      return { status: 200, body: Buffer.concat(chunks), etag: typeof etag === 'string' ? etag : null };
    },
    async archive(url, opts) {
      if (!opts.trusted) {
        const body = await outbound.download(url, { maxSize: opts.maxSize, failCode: 'UPSTREAM_FAILED', what: opts.what });
        return Readable.from([body]);
      }
      const res = await request(url, { dispatcher: agent, signal: timeout(), headers: { 'user-agent': USER_AGENT } }).catch(() =>
        unreachable(url),
      );
      if (res.statusCode === 404 || res.statusCode === 410) {
        await res.body.dump();
        return null;
      }
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {});
        fail('UPSTREAM_FAILED', `the upstream ${host(url)} answered ${res.statusCode} for ${opts.what}; try again later`);
      }
      return res.body;
    },
    close: () => pool.close(),
  };
}
