import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Http2SecureServer, IncomingHttpHeaders as H2Headers, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { IndexDoc } from '../registry/index-docs.js';
import type { SourceDoc } from '../registry/source.js';
import type { RequestSeries, RequestStats } from '../registry/request-stats.js';
import { notModified } from './conditional.js';
import type { FastIndexRoute } from './format-plugin.js';
import type { RequestRecorder } from './observe.js';
import { requestIdOf, type RequestId } from './request-id.js';

/**
 * A document's response headers, built once per (route, document) rather than per request: for HTTP/1.1 a flat
 * `[name, value, …]` list (`res.writeHead` takes it without walking an object), for HTTP/2 the object `respond`
 * copies. Slot 1 / `x-request-id` is overwritten per request; both are read synchronously, so one copy serves all.
 */
interface DocHeaders {
  h1Full: Array<string | number>;
  h1NotModified: Array<string | number>;
  h2Full: OutgoingHttpHeaders;
  h2NotModified: OutgoingHttpHeaders;
}

/** A public index route with what it needs per request resolved once: its metric series. */
interface PreparedRoute {
  route: FastIndexRoute;
  series: RequestSeries;
}

/**
 * A read's route, the document path its URL names and the source's `peek` of that path; then the document it last
 * answered and that document's headers, so a hot URL's headers are found without a lookup.
 */
interface Located {
  prepared: PreparedRoute;
  path: string;
  peek: () => SourceDoc | null | undefined;
  doc: IndexDoc | null;
  headers: DocHeaders | null;
}

/**
 * URLs whose route and document path are remembered (`locate`), each at most LOCATED_URL_LENGTH long: a few MB at most.
 * Each also keeps the document it last answered alive (until read again or emptied), evicted from the cache or not:
 * the most held beyond the cache's budget is this many documents.
 */
const LOCATED_URLS = 16_384;
const LOCATED_URL_LENGTH = 256;

/** The answer to a cached index read, before it is written to HTTP/1.1 or HTTP/2. */
interface FastAnswer {
  at: Located;
  doc: IndexDoc;
  fresh: boolean;
  reqId: RequestId;
  started: number;
}

/** The headers of the document a read answers: those of the URL's last answer while its document is the same. */
function docHeaders(at: Located, doc: IndexDoc): DocHeaders {
  let h = at.headers;
  if (at.doc !== doc || !h) {
    const { path } = at;
    const { route } = at.prepared;
    const cacheControl = typeof route.cacheControl === 'string' ? route.cacheControl : route.cacheControl(path);
    const contentType = typeof route.contentType === 'string' ? route.contentType : route.contentType(path);
    // The order the Fastify route sends them in (send-doc.ts), so both paths write the same bytes.
    const common = ['x-request-id', '', 'etag', doc.etag, 'last-modified', doc.lastModified, 'cache-control', cacheControl];
    const full = [...common, 'content-type', contentType, 'content-length', doc.body.length];
    const toObject = (status: number, list: Array<string | number>) => {
      const o: OutgoingHttpHeaders = { ':status': status };
      for (let i = 0; i < list.length; i += 2) o[list[i] as string] = list[i + 1];
      return o;
    };
    h = { h1Full: full, h1NotModified: common, h2Full: toObject(200, full), h2NotModified: toObject(304, common) };
    at.doc = doc;
    at.headers = h;
  }
  return h;
}

/**
 * Answers reads of cached public index documents before the router: Fastify's routing, hooks
 * and reply machinery cost more than the read itself. Anything else — a miss, a cached 404,
 * a private repo, a query string, an encoded path — gets null and goes through Fastify,
 * whose route answers with the same headers and fills the cache for next time.
 */
export function fastIndexAnswerer(routes: FastIndexRoute[], stats: RequestStats, record: RequestRecorder) {
  const byFirstSegment = new Map<string, PreparedRoute>(
    routes.map((route) => [route.prefix.split('/')[1], { route, series: stats.of(route.repo, route.format) }]),
  );
  /** The route and document path a URL names, cached or not; null when it is none of these reads. */
  const locateUrl = (url: string): Located | null => {
    if (url.includes('?') || url.includes('%') || url.includes('//')) return null;
    const prepared = byFirstSegment.get(url.slice(1, url.indexOf('/', 1)));
    if (!prepared || !url.startsWith(prepared.route.prefix)) return null;
    const path = prepared.route.docPath(url.slice(prepared.route.prefix.length));
    if (path === null) return null;
    const { source } = prepared.route;
    return { prepared, path, peek: source.peeker?.(path) ?? (() => source.peek(path)), doc: null, headers: null };
  };
  // What each URL read lately names (null: none of these reads), so a hot URL costs one map lookup, not its parsing
  // (docPath is a function of the URL alone). Bounded: emptied when full.
  const located = new Map<string, Located | null>();
  /** The route and document path of a read this path may answer, cached or not. */
  const locate = (method: string | undefined, url: string | undefined): Located | null => {
    if ((method !== 'GET' && method !== 'HEAD') || !url) return null;
    let at = located.get(url);
    if (at === undefined) {
      at = locateUrl(url);
      if (url.length > LOCATED_URL_LENGTH) return at;
      if (located.size >= LOCATED_URLS) located.clear();
      located.set(url, at);
    }
    return at;
  };
  const find = (method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders | H2Headers): FastAnswer | null => {
    const at = locate(method, url);
    if (!at) return null;
    const doc = at.peek();
    if (!doc) return null;
    at.prepared.route.seen?.(doc);
    const started = performance.now();
    const reqId = requestIdOf(headers);
    const fresh = notModified(headers as { 'if-none-match'?: string }, doc.etag, doc.updatedAt);
    return { at, doc, fresh, reqId, started };
  };
  const done = (a: FastAnswer, method: string, url: string) =>
    record(a.at.prepared.series, a.fresh ? 304 : 200, performance.now() - a.started, a.reqId, method, url);
  /**
   * Loads the document a read `find` would answer once cached (what the route does on a miss); false when the path is
   * not one of these reads. Used while the router is still being built (http/server.ts), so index reads are answered
   * from the moment the server listens.
   */
  const load = async (method: string | undefined, url: string | undefined): Promise<boolean> => {
    const at = locate(method, url);
    if (!at) return false;
    if (at.peek() === undefined) await at.prepared.route.source.doc(at.path);
    return true;
  };
  /** True for a read of a document not cached yet whose source reads only local storage: `load` then answers it itself. */
  const loadsFirst = (method: string | undefined, url: string | undefined): boolean => {
    const at = locate(method, url);
    return at !== null && at.prepared.route.source.readsLocally === true && at.peek() === undefined;
  };
  /** True for a read `load` can load (before the router exists, every one of them is loaded by the fast path). */
  const locates = (method: string | undefined, url: string | undefined): boolean => locate(method, url) !== null;
  return { find, load, loadsFirst, locates, headersOf: (a: FastAnswer) => docHeaders(a.at, a.doc), done };
}

export type FastIndexAnswerer = ReturnType<typeof fastIndexAnswerer>;

/** The HTTP/1.1 side: true when the request was answered. */
export function answerHttp1(answer: FastIndexAnswerer, req: IncomingMessage, res: ServerResponse): boolean {
  const method = req.method!;
  const url = req.url!;
  const a = answer.find(method, url, req.headers);
  if (!a) return false;
  const h = answer.headersOf(a);
  const list = a.fresh ? h.h1NotModified : h.h1Full;
  list[1] = a.reqId;
  res.writeHead(a.fresh ? 304 : 200, list as string[]);
  list[1] = NO_ID;
  res.end(a.fresh || method === 'HEAD' ? undefined : a.doc.body);
  answer.done(a, method, url);
  return true;
}

/**
 * The HTTP/2 side, on the raw stream: Node's compatibility request/response objects cost a
 * third of an HTTP/2 read. Streams not answered here go on to the compatibility layer (and Fastify).
 * A miss that `loadsFirst` names is loaded and answered here too, still on the raw stream: sent through the
 * compatibility layer, each first read's request and response objects went through Node's stream code alongside the
 * raw streams, and every cached read after them cost more (issue 14).
 */
export function answerHttp2Streams(
  server: Http2SecureServer,
  answer: FastIndexAnswerer,
  loadsFirst: (method: string | undefined, url: string | undefined) => boolean = () => false,
): void {
  frontHttp2Streams(server, {
    answer: (stream, headers) => answerHttp2(answer, stream, headers),
    loadsFirst: (headers) => loadsFirst(headers[':method'], headers[':path']),
    load: (headers) =>
      answer.load(headers[':method'], headers[':path']).catch(
        // The route meets the same failure and answers it in the client's terms.
        () => false,
      ),
  });
}

/** What a fast path puts in front of the HTTP/2 server's `stream` listeners (`frontHttp2Streams`). */
export interface Http2Front {
  /** Answers the stream from memory: true when it did. */
  answer(stream: ServerHttp2Stream, headers: H2Headers): boolean;
  /** True for a miss this fast path loads itself (a first read), then answers. */
  loadsFirst(headers: H2Headers): boolean;
  /** Loads what `loadsFirst` named; false when `answer` cannot answer it now (the listeners behind then do). */
  load(headers: H2Headers): Promise<boolean>;
}

/**
 * Puts a fast path in front of the HTTP/2 server's `stream` listeners (those already there: Node's compatibility
 * layer, or another fast path): a stream it answers stops there, a first read it loads is answered on the raw stream
 * once loaded, and the rest go on to the listeners behind it.
 */
export function frontHttp2Streams(server: Http2SecureServer, front: Http2Front): void {
  const behind = server.listeners('stream') as Array<(...args: unknown[]) => void>;
  server.removeAllListeners('stream');
  const pass = (stream: ServerHttp2Stream, headers: H2Headers, flags: number, rawHeaders: string[]) => {
    for (const listener of behind) listener.call(server, stream, headers, flags, rawHeaders);
  };
  const loadThenAnswer = async (stream: ServerHttp2Stream, headers: H2Headers, flags: number, rawHeaders: string[]) => {
    const loaded = await front.load(headers);
    // A stream the client reset meanwhile has nobody to answer.
    if (stream.destroyed) return;
    if (!loaded || !front.answer(stream, headers)) pass(stream, headers, flags, rawHeaders);
  };
  server.on('stream', (stream: ServerHttp2Stream, headers: H2Headers, flags: number, rawHeaders: string[]) => {
    if (front.answer(stream, headers)) return;
    if (front.loadsFirst(headers)) void loadThenAnswer(stream, headers, flags, rawHeaders);
    else pass(stream, headers, flags, rawHeaders);
  });
}

/**
 * What a document's header list holds in its request-id slot between requests. Each read writes its id there, and the
 * headers are written out (copied) at once; the slot is emptied right after, because a long-lived list holding the id
 * of its document's last read keeps that string alive through scavenges into the old generation (one per document
 * read: ~8,500 in the index-read bench; issue 14). The artifact fast path does the same.
 */
export const NO_ID = '';

/** `respond`'s options, made once (node:http2 copies them); the artifact fast path uses them too. */
export const END_STREAM = Object.freeze({ endStream: true });
export const MORE_TO_COME = Object.freeze({ endStream: false });

/** One HTTP/2 stream: true when it was answered. */
export function answerHttp2(answer: FastIndexAnswerer, stream: ServerHttp2Stream, headers: H2Headers): boolean {
  const method = headers[':method']!;
  const url = headers[':path']!;
  const a = answer.find(method, url, headers);
  if (!a) return false;
  const h = answer.headersOf(a);
  const out = a.fresh ? h.h2NotModified : h.h2Full;
  out['x-request-id'] = a.reqId;
  const body = a.fresh || method === 'HEAD' ? null : a.doc.body;
  stream.respond(out, body === null ? END_STREAM : MORE_TO_COME);
  out['x-request-id'] = NO_ID;
  if (body) stream.end(body);
  answer.done(a, method, url);
  return true;
}
