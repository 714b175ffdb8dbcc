/**
 * What a proxy asks of its upstream: a document (conditional GET) and an archive (a stream), by full
 * URL, through the UpstreamClient of the URL's origin. Failures are LarderErrors that never read as
 * "not found" (upstream-client.ts).
 */
import type { Readable } from 'node:stream';
import type { OutboundClient } from './outbound.js';
import type { UpstreamRequestEvent } from './upstream-client.js';

/** An upstream's answer to a document request. */
export type UpstreamDocument = { status: 200; body: Buffer; etag: string | null } | { status: 304 } | { status: 404 };

/** The two requests a proxy makes. */
export interface UpstreamFetch {
  /** GETs a document, with If-None-Match when a copy is held; a 404/410 is `{status: 404}`, any other failure throws. */
  document(url: string, ifNoneMatch: string | null, maxSize: number): Promise<UpstreamDocument>;
  /** Opens an archive for streaming, or null on 404/410; `trusted` URLs (the operator's upstream) skip the address rules. */
  archive(
    url: string,
    opts: { trusted: boolean; maxSize: number; what: string; headers?: Record<string, string> },
  ): Promise<Readable | null>;
}

/** The upstream requests of one server, reporting each attempt to `onRequest` (metrics). */
export function upstreamFetch(outbound: OutboundClient, onRequest?: (event: UpstreamRequestEvent) => void): UpstreamFetch {
  // One client per origin and trust: every repo reading crates.io shares its concurrency limit.
  const client = (url: URL, trusted: boolean) => outbound.upstream(url.origin, { trusted, onRequest });
  const relative = (url: URL) => `${url.pathname}${url.search}`;
  return {
    async document(url, ifNoneMatch, maxSize) {
      const u = new URL(url);
      const res = await client(u, true).get(relative(u), { maxSize, ...(ifNoneMatch ? { ifNoneMatch } : {}) });
      if (res.status === 200) return { status: 200, body: res.body, etag: res.etag ?? null };
      return res.status === 304 ? { status: 304 } : { status: 404 };
    },
    async archive(url, opts) {
      const u = new URL(url);
      const res = await client(u, opts.trusted).stream(relative(u), {
        maxSize: opts.maxSize,
        ...(opts.headers ? { headers: opts.headers } : {}),
      });
      return res.status === 200 ? res.body : null;
    },
  };
}
