import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, IncomingHttpHeaders as H2Headers, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { RequestSeries, RequestStats } from '../registry/request-stats.js';
import type { Source, SourceArtifact } from '../registry/source.js';
import { etagMatches } from './conditional.js';
import { END_STREAM, MORE_TO_COME, NO_ID, frontHttp2Streams } from './fast-index.js';
import type { RequestRecorder } from './observe.js';
import { requestIdOf, type RequestId } from './request-id.js';

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

/** Bytes of small artifacts held in memory per process (bodies + keys + a per-entry overhead), a fixed budget. */
export const FAST_ARTIFACT_BUDGET = 16 * 1024 * 1024;
/** Artifacts up to this size are small: held once the route answered them 200. */
export const FAST_ARTIFACT_MAX_SIZE = 256 * 1024;
/*
 * Large artifacts (a registry tarball every Pkg client fetches after each registry change: 2 MiB for 10,000 packages)
 * cost a blob read through a 64 KiB buffer per response, ~8x bare Node's CPU from memory. They get a budget of their
 * own, so one of them never pushes out the dozens of small ones the same bytes hold, and they are held only when hot:
 * the route answered the URL 200 a second time within FAST_ARTIFACT_LARGE_WINDOW_MS. Most large artifacts (a big
 * package or a binary artifact) are fetched once per install, and reading one into memory costs as much as sending
 * it; a one-off download of each of many large ones then never churns the budget. Each is at most
 * FAST_ARTIFACT_LARGE_MAX_SIZE (so at least four fit) and one is read at a time: per process at most
 * FAST_ARTIFACT_BUDGET + FAST_ARTIFACT_LARGE_BUDGET held, plus one large artifact being read.
 */
/** Bytes of large artifacts held in memory per process, apart from the small ones' budget. */
export const FAST_ARTIFACT_LARGE_BUDGET = 32 * 1024 * 1024;
/** Larger artifacts are always sent from the blob store. */
export const FAST_ARTIFACT_LARGE_MAX_SIZE = 8 * 1024 * 1024;
/** A large artifact is held when the route answered it 200 again within this time of the last time. */
export const FAST_ARTIFACT_LARGE_WINDOW_MS = 5 * 60_000;
/** URLs of large artifacts answered once, remembered for the window (the oldest forgotten first past this many). */
const LARGE_SEEN_MAX = 1024;
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
 * Answers GET/HEAD of immutable artifacts held in memory before the router, without a `stat` or a read per request.
 * A small artifact of a source that reads only local storage is read at its first request and answered here
 * (`loadsFirst`, `load`). Any other URL not held goes through Fastify; once the route has answered it 200, the artifact
 * is read into memory in the background: a small one at once (FAST_ARTIFACT_BUDGET, least recently used dropped
 * first), a large one only when hot (see FAST_ARTIFACT_LARGE_BUDGET). Range requests, query strings and encoded paths
 * always go to the route. Downloads are counted as the route counts them: a GET sent in full.
 */
export function fastArtifactAnswerer(routes: FastArtifactRoute[], stats: RequestStats, record: RequestRecorder) {
  const byFirstSegment = new Map(
    routes.map((route) => [route.prefix.split('/')[1], { route, series: stats.of(route.repo, route.format) }]),
  );
  const sizeCalculation = (h: Held, url: string) => h.body.length + url.length * 2 + ENTRY_OVERHEAD;
  const small = new LRUCache<string, Held>({ maxSize: FAST_ARTIFACT_BUDGET, sizeCalculation });
  const large = new LRUCache<string, Held>({ maxSize: FAST_ARTIFACT_LARGE_BUDGET, sizeCalculation });
  const loading = new Set<string>();
  /**
   * URLs `load` found larger than FAST_ARTIFACT_MAX_SIZE (insertion order = oldest first, at most LARGE_SEEN_MAX): their
   * reads go to the route, whose answers tell when one is hot. Loaded again and again instead, a large artifact read by
   * several clients at once always had a load in flight, `answered` skipped the route's answers, and it was never held.
   */
  const knownLarge = new Set<string>();
  /** Large artifacts' URLs the route answered 200, with when it last did (insertion order = oldest first). */
  const seen = new Map<string, number>();
  let largeLoading = false;

  /** True when a large artifact's URL was answered within the window before now; remembers this answer either way. */
  const hot = (url: string): boolean => {
    const now = Date.now();
    const last = seen.get(url);
    seen.delete(url);
    seen.set(url, now);
    if (seen.size > LARGE_SEEN_MAX) seen.delete(seen.keys().next().value!);
    return last !== undefined && now - last <= FAST_ARTIFACT_LARGE_WINDOW_MS;
  };

  /** The route and artifact key a URL names, or null when it is none of a fast route's. */
  const routeOf = (url: string) => {
    if (url.includes('?') || url.includes('%') || url.includes('//')) return null;
    const found = byFirstSegment.get(url.slice(1, url.indexOf('/', 1)));
    if (!found || !url.startsWith(found.route.prefix)) return null;
    const key = found.route.artifactKey(url.slice(found.route.prefix.length));
    return key === null ? null : { ...found, key };
  };

  /** True when a large artifact at `url` may be read now: hot, and no other large one is being read. */
  const admitLarge = (url: string): boolean => hot(url) && !largeLoading;

  /**
   * After the route answered `url` 200, with `length` bytes when the headers it sent can be read (NaN if not; a
   * hijacked HTTP/1.1 reply's are not): reads the artifact into memory when it is small, or large and hot; failures
   * leave it to the route.
   */
  const answered = (url: string, found: NonNullable<ReturnType<typeof routeOf>>, length: number): void => {
    if (loading.has(url) || small.has(url) || large.has(url) || length > FAST_ARTIFACT_LARGE_MAX_SIZE) return;
    // Large by the length sent: decided before the source is asked (a cold large artifact costs no lookup).
    let isLarge = length > FAST_ARTIFACT_MAX_SIZE;
    if (isLarge && !admitLarge(url)) return;
    loading.add(url);
    if (isLarge) largeLoading = true;
    void (async () => {
      const artifact = await found.route.source.artifact(found.key);
      if (!artifact || artifact.size > FAST_ARTIFACT_LARGE_MAX_SIZE) return;
      if (artifact.size > FAST_ARTIFACT_MAX_SIZE && !isLarge) {
        if (!admitLarge(url)) return;
        isLarge = largeLoading = true;
      }
      const body = await readWhole(artifact);
      if (!body) return;
      (isLarge ? large : small).set(url, held(found.route, found.series, artifact.sha256, body, artifact.countDownload));
      if (isLarge) seen.delete(url);
    })()
      .catch(() => undefined)
      .finally(() => {
        loading.delete(url);
        if (isLarge) largeLoading = false;
      });
  };

  /**
   * True for a GET/HEAD (no Range) of an artifact not held yet whose source reads only local storage: `load` then
   * reads it, so its first read is answered here too. Sent through Fastify, first reads made Node's own HTTP code
   * slower for every read after them (issue 14, as for index documents); a proxy's still goes to its route.
   */
  const loadsFirst = (method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders | H2Headers): boolean => {
    if ((method !== 'GET' && method !== 'HEAD') || !url || headers.range !== undefined || byFirstSegment.size === 0) return false;
    const found = routeOf(url);
    return (
      found !== null && found.route.source.readsLocally === true && !loading.has(url) && !knownLarge.has(url) && heldAt(url) === undefined
    );
  };
  /** Reads a small artifact `loadsFirst` named into memory; true when it is held now (false: missing, large, unreadable). */
  const load = async (url: string): Promise<boolean> => {
    const found = routeOf(url);
    if (!found || loading.has(url)) return false;
    loading.add(url);
    try {
      const artifact = await found.route.source.artifact(found.key);
      if (!artifact) return false;
      if (artifact.size > FAST_ARTIFACT_MAX_SIZE) {
        knownLarge.add(url);
        if (knownLarge.size > LARGE_SEEN_MAX) knownLarge.delete(knownLarge.keys().next().value!);
        return false;
      }
      const body = await readWhole(artifact);
      if (!body) return false;
      small.set(url, held(found.route, found.series, artifact.sha256, body, artifact.countDownload));
      return true;
    } catch {
      // The route meets the same failure and answers it in the client's terms.
      return false;
    } finally {
      loading.delete(url);
    }
  };

  /** The held artifact at `url`, if any. */
  const heldAt = (url: string): Held | undefined => small.get(url) ?? (large.size > 0 ? large.get(url) : undefined);

  /** The held artifact a GET/HEAD without a Range asks for, if any. */
  const find = (method: string, url: string, headers: IncomingHttpHeaders | H2Headers): Held | undefined =>
    (method !== 'GET' && method !== 'HEAD') || !url || headers.range !== undefined ? undefined : heldAt(url);
  // Per answer no object is made: what `done` needs is passed to it as it is.
  const done = (h: Held, fresh: boolean, started: number, reqId: RequestId, method: string, url: string) => {
    // As sendArtifact: a GET sent in full is a download; HEAD and 304 are not.
    if (!fresh && method === 'GET') h.countDownload?.();
    record(h.series, fresh ? 304 : 200, performance.now() - started, reqId, method, url);
  };

  /** HTTP/1.1: true when answered; otherwise the artifact is held once the route has answered it. */
  const http1 = (req: IncomingMessage, res: ServerResponse): boolean => {
    const method = req.method!;
    const url = req.url!;
    const headers = req.headers;
    const h = find(method, url, headers);
    if (!h) {
      const found = (method === 'GET' || method === 'HEAD') && byFirstSegment.size > 0 ? routeOf(url) : null;
      if (found)
        res.once('finish', () => {
          if (res.statusCode === 200) answered(url, found, Number(res.getHeader('content-length')));
        });
      return false;
    }
    const reqId = requestIdOf(headers);
    const fresh = etagMatches(headers['if-none-match'], h.etag);
    const started = performance.now();
    const list = fresh ? h.h1NotModified : h.h1Full;
    list[1] = reqId;
    res.writeHead(fresh ? 304 : 200, list as string[]);
    list[1] = NO_ID;
    res.end(fresh || method === 'HEAD' ? undefined : h.body);
    done(h, fresh, started, reqId, method, url);
    return true;
  };

  /** HTTP/2 on the raw stream: true when answered. */
  const http2 = (stream: ServerHttp2Stream, headers: H2Headers): boolean => {
    const method = headers[':method']!;
    const url = headers[':path']!;
    const h = find(method, url, headers);
    if (!h) {
      const found = (method === 'GET' || method === 'HEAD') && byFirstSegment.size > 0 ? routeOf(url) : null;
      if (found)
        stream.once('close', () => {
          const sent = stream.sentHeaders;
          if (sent?.[':status'] === 200) answered(url, found, Number(sent['content-length']));
        });
      return false;
    }
    const reqId = requestIdOf(headers);
    const fresh = etagMatches(headers['if-none-match'], h.etag);
    const started = performance.now();
    const out = fresh ? h.h2NotModified : h.h2Full;
    out['x-request-id'] = reqId;
    const body = fresh || method === 'HEAD' ? null : h.body;
    stream.respond(out, body === null ? END_STREAM : MORE_TO_COME);
    out['x-request-id'] = NO_ID;
    if (body) sendH2Body(stream, body);
    done(h, fresh, started, reqId, method, url);
    return true;
  };

  return {
    http1,
    http2,
    loadsFirst,
    load,
    /** What is held, small and large apart (bytes as the budgets count them). */
    held: () => ({
      small: { entries: small.size, bytes: small.calculatedSize },
      large: { entries: large.size, bytes: large.calculatedSize },
    }),
  };
}

export type FastArtifactAnswerer = ReturnType<typeof fastArtifactAnswerer>;

/** The artifact's bytes in one buffer of its size, filled in place (no chunk list, no second copy); null if not whole. */
async function readWhole(artifact: SourceArtifact): Promise<Buffer | null> {
  const body = Buffer.allocUnsafeSlow(artifact.size);
  let at = 0;
  for await (const chunk of artifact.blob.stream()) {
    const bytes = chunk as Buffer;
    if (at + bytes.length > body.length) return null;
    at += bytes.copy(body, at);
  }
  return at === body.length ? body : null;
}

/** Slices of a large body written to an HTTP/2 stream at a time. */
const H2_SLICE = 64 * 1024;

/**
 * Ends `stream` with `body`, a large one slice by slice as the stream drains: written whole, every stream's body
 * would wait in the session's outgoing queue at once, and past the session's memory limit (Node's maxSessionMemory,
 * 10 MB: five 2 MiB tarballs) new streams are refused. Slices are views of the held buffer, never copies.
 */
function sendH2Body(stream: ServerHttp2Stream, body: Buffer): void {
  if (body.length <= H2_SLICE) {
    stream.end(body);
    return;
  }
  let at = 0;
  const pump = () => {
    while (at < body.length) {
      if (stream.destroyed) return;
      const end = Math.min(at + H2_SLICE, body.length);
      const more = stream.write(body.subarray(at, end));
      at = end;
      if (!more && at < body.length) {
        stream.once('drain', pump);
        return;
      }
    }
    stream.end();
  };
  pump();
}

/**
 * Puts the artifact answerer in front of the HTTP/2 server's `stream` listeners (Fastify's compatibility layer). A
 * first read `loadsFirst` allows is loaded and answered on the raw stream as well.
 */
export function answerArtifactHttp2Streams(
  server: Http2SecureServer,
  answer: FastArtifactAnswerer,
  loadsFirst: (method: string | undefined, url: string | undefined, headers: H2Headers) => boolean = () => false,
): void {
  frontHttp2Streams(server, {
    answer: (stream, headers) => answer.http2(stream, headers),
    loadsFirst: (headers) => loadsFirst(headers[':method'], headers[':path'], headers),
    load: (headers) => answer.load(headers[':path']!),
  });
}
