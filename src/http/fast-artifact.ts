import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, IncomingHttpHeaders as H2Headers, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { RequestSeries, RequestStats } from '../registry/request-stats.js';
import type { Source } from '../registry/source.js';
import { etagMatches } from './conditional.js';
import type { RequestRecorder } from './observe.js';
import { nextRequestId } from './request-id.js';

/**
 * Small immutable artifacts of one public repo the HTTP layer may answer from memory: URLs under `prefix` whose rest
 * `artifactKey` maps to an artifact key of `source` (content-addressed, so a URL never changes its bytes).
 */
export interface FastArtifactRoute {
  repo: string;
  format: string;
  /** e.g. `/julia/` */
  prefix: string;
  /** The artifact key for the rest of the URL, or null when the route must decide. */
  artifactKey(rest: string): string | null;
  source: Source;
  contentType: string;
  cacheControl: string;
}

/** Bytes of artifacts held in memory per process (bodies + keys + a per-entry overhead), a fixed budget. */
export const FAST_ARTIFACT_BUDGET = 16 * 1024 * 1024;
/** Artifacts larger than this are always sent from the blob store (they gain little and would crowd out many). */
export const FAST_ARTIFACT_MAX_SIZE = 256 * 1024;
/** What an entry costs besides its body and URL: the header lists and objects, the LRU node (rounded up). */
const ENTRY_OVERHEAD = 1024;

/** One held artifact with its response headers built once (slot 1 / `x-request-id` is written per request). */
interface Held {
  body: Buffer;
  etag: string;
  series: RequestSeries;
  countDownload?: () => void;
  h1Full: Array<string | number>;
  h1NotModified: Array<string | number>;
  h2Full: OutgoingHttpHeaders;
  h2NotModified: OutgoingHttpHeaders;
}

function held(route: FastArtifactRoute, series: RequestSeries, sha256: string, body: Buffer, countDownload?: () => void): Held {
  const etag = `"${sha256}"`;
  // The headers and order of the route (sendArtifact + sendBlob), so both paths write the same bytes.
  const common = ['x-request-id', '', 'content-type', route.contentType, 'cache-control', route.cacheControl, 'etag', etag];
  const full = [...common, 'accept-ranges', 'bytes', 'content-length', body.length];
  const toObject = (status: number, list: Array<string | number>) => {
    const o: OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < list.length; i += 2) o[list[i] as string] = list[i + 1];
    return o;
  };
  return {
    body,
    etag,
    series,
    countDownload,
    h1Full: full,
    h1NotModified: common,
    h2Full: toObject(200, full),
    h2NotModified: toObject(304, common),
  };
}

/**
 * Answers GET/HEAD of small artifacts held in memory before the router, without a `stat` or a read per request.
 * A URL not held goes through Fastify; once the route has answered it 200, the artifact is read into memory in the
 * background (bounded by FAST_ARTIFACT_BUDGET, least recently used dropped first). Range requests, query strings and
 * encoded paths always go to the route. Downloads are counted as the route counts them: a GET sent in full.
 */
export function fastArtifactAnswerer(routes: FastArtifactRoute[], stats: RequestStats, record: RequestRecorder) {
  const byFirstSegment = new Map(
    routes.map((route) => [route.prefix.split('/')[1], { route, series: stats.of(route.repo, route.format) }]),
  );
  const cache = new LRUCache<string, Held>({
    maxSize: FAST_ARTIFACT_BUDGET,
    sizeCalculation: (h, url) => h.body.length + url.length * 2 + ENTRY_OVERHEAD,
  });
  const loading = new Set<string>();

  /** The route and artifact key a URL names, or null when it is none of a fast route's. */
  const routeOf = (url: string) => {
    if (url.includes('?') || url.includes('%') || url.includes('//')) return null;
    const found = byFirstSegment.get(url.slice(1, url.indexOf('/', 1)));
    if (!found || !url.startsWith(found.route.prefix)) return null;
    const key = found.route.artifactKey(url.slice(found.route.prefix.length));
    return key === null ? null : { ...found, key };
  };

  /** Reads the artifact at `url` into memory when it is small; failures leave it to the route. */
  const fill = (url: string, found: NonNullable<ReturnType<typeof routeOf>>): void => {
    if (loading.has(url) || cache.has(url)) return;
    loading.add(url);
    void (async () => {
      const artifact = await found.route.source.artifact(found.key);
      if (!artifact || artifact.size > FAST_ARTIFACT_MAX_SIZE) return;
      const chunks: Buffer[] = [];
      for await (const chunk of artifact.blob.stream()) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      if (body.length === artifact.size) cache.set(url, held(found.route, found.series, artifact.sha256, body, artifact.countDownload));
    })()
      .catch(() => undefined)
      .finally(() => loading.delete(url));
  };

  const find = (method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders | H2Headers) => {
    if ((method !== 'GET' && method !== 'HEAD') || !url || headers.range !== undefined) return null;
    const h = cache.get(url);
    if (!h) return null;
    const incomingId = headers['x-request-id'];
    const reqId = typeof incomingId === 'string' && incomingId ? incomingId : nextRequestId();
    return { h, reqId, fresh: etagMatches(headers['if-none-match'], h.etag), started: performance.now() };
  };
  type Answer = NonNullable<ReturnType<typeof find>>;
  const done = (a: Answer, method: string, url: string) => {
    // As sendArtifact: a GET sent in full is a download; HEAD and 304 are not.
    if (!a.fresh && method === 'GET') a.h.countDownload?.();
    record(a.h.series, a.fresh ? 304 : 200, performance.now() - a.started, a.reqId, method, url);
  };

  /** HTTP/1.1: true when answered; otherwise the artifact is held once the route has answered it. */
  const http1 = (req: IncomingMessage, res: ServerResponse): boolean => {
    const method = req.method!;
    const url = req.url!;
    const a = find(method, url, req.headers);
    if (!a) {
      const found = (method === 'GET' || method === 'HEAD') && byFirstSegment.size > 0 ? routeOf(url) : null;
      if (found)
        res.once('finish', () => {
          if (res.statusCode === 200) fill(url, found);
        });
      return false;
    }
    const list = a.fresh ? a.h.h1NotModified : a.h.h1Full;
    list[1] = a.reqId;
    res.writeHead(a.fresh ? 304 : 200, list as string[]);
    res.end(a.fresh || method === 'HEAD' ? undefined : a.h.body);
    done(a, method, url);
    return true;
  };

  /** HTTP/2 on the raw stream: true when answered. */
  const http2 = (stream: ServerHttp2Stream, headers: H2Headers): boolean => {
    const method = headers[':method']!;
    const url = headers[':path']!;
    const a = find(method, url, headers);
    if (!a) {
      const found = (method === 'GET' || method === 'HEAD') && byFirstSegment.size > 0 ? routeOf(url) : null;
      if (found)
        stream.once('close', () => {
          if (stream.sentHeaders?.[':status'] === 200) fill(url, found);
        });
      return false;
    }
    const out = a.fresh ? a.h.h2NotModified : a.h.h2Full;
    out['x-request-id'] = a.reqId;
    const body = a.fresh || method === 'HEAD' ? null : a.h.body;
    stream.respond(out, { endStream: body === null });
    if (body) stream.end(body);
    done(a, method, url);
    return true;
  };

  return { http1, http2, held: () => ({ entries: cache.size, bytes: cache.calculatedSize }) };
}

export type FastArtifactAnswerer = ReturnType<typeof fastArtifactAnswerer>;

/** Puts the artifact answerer in front of the HTTP/2 server's `stream` listeners (Fastify's compatibility layer). */
export function answerArtifactHttp2Streams(server: Http2SecureServer, answer: FastArtifactAnswerer): void {
  const others = server.listeners('stream') as Array<(...args: unknown[]) => void>;
  server.removeAllListeners('stream');
  server.on('stream', (stream: ServerHttp2Stream, headers: H2Headers, flags: number, rawHeaders: string[]) => {
    if (answer.http2(stream, headers)) return;
    for (const listener of others) listener.call(server, stream, headers, flags, rawHeaders);
  });
}
