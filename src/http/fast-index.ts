import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, IncomingHttpHeaders as H2Headers, ServerHttp2Stream } from 'node:http2';
import { notModified } from './conditional.js';
import type { FastIndexRoute } from './format-plugin.js';
import type { RequestRecorder } from './observe.js';

/** The answer to a cached index read, before it is written to HTTP/1.1 or HTTP/2. */
interface FastAnswer {
  status: 200 | 304;
  headers: Record<string, string | number>;
  body: Buffer | null;
  done(): void;
}

/**
 * Answers reads of cached public index documents before the router: Fastify's routing, hooks
 * and reply machinery cost more than the read itself. Anything else — a miss, a cached 404,
 * a private repo, a query string, an encoded path — gets null and goes through Fastify,
 * whose route answers with the same headers and fills the cache for next time.
 */
export function fastIndexAnswerer(routes: FastIndexRoute[], record: RequestRecorder) {
  const byFirstSegment = new Map(routes.map((r) => [r.prefix.split('/')[1], r]));
  return (method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders | H2Headers): FastAnswer | null => {
    if ((method !== 'GET' && method !== 'HEAD') || !url) return null;
    if (url.includes('?') || url.includes('%') || url.includes('//')) return null;
    const route = byFirstSegment.get(url.slice(1, url.indexOf('/', 1)));
    if (!route || !url.startsWith(route.prefix)) return null;
    const path = route.docPath(url.slice(route.prefix.length));
    const doc = path === null ? undefined : route.source.peek(path);
    if (!doc) return null;
    const started = performance.now();
    const incomingId = headers['x-request-id'];
    const reqId = typeof incomingId === 'string' && incomingId ? incomingId : randomUUID();
    const fresh = notModified(headers as { 'if-none-match'?: string }, doc.etag, doc.updatedAt);
    const status = fresh ? 304 : 200;
    const out: Record<string, string | number> = {
      'x-request-id': reqId,
      etag: doc.etag,
      'last-modified': doc.lastModified,
      'cache-control': route.cacheControl,
    };
    if (!fresh) {
      out['content-type'] = route.contentType;
      out['content-length'] = doc.body.length;
    }
    return {
      status,
      headers: out,
      body: fresh || method === 'HEAD' ? null : doc.body,
      done: () => record({ repo: route.repo, format: route.format }, status, performance.now() - started, reqId, method, url),
    };
  };
}

export type FastIndexAnswerer = ReturnType<typeof fastIndexAnswerer>;

/** The HTTP/1.1 side: true when the request was answered. */
export function answerHttp1(answer: FastIndexAnswerer, req: IncomingMessage, res: ServerResponse): boolean {
  const a = answer(req.method, req.url, req.headers);
  if (!a) return false;
  res.writeHead(a.status, a.headers);
  res.end(a.body ?? undefined);
  a.done();
  return true;
}

/**
 * The HTTP/2 side, on the raw stream: Node's compatibility request/response objects cost a
 * third of an HTTP/2 read. Streams not answered here go on to the compatibility layer (and Fastify).
 */
export function answerHttp2Streams(server: Http2SecureServer, answer: FastIndexAnswerer): void {
  const compat = server.listeners('stream') as Array<(...args: unknown[]) => void>;
  server.removeAllListeners('stream');
  server.on('stream', (stream: ServerHttp2Stream, headers: H2Headers, flags: number, rawHeaders: string[]) => {
    const a = answer(headers[':method'], headers[':path'], headers);
    if (!a) {
      for (const listener of compat) listener.call(server, stream, headers, flags, rawHeaders);
      return;
    }
    stream.respond({ ':status': a.status, ...a.headers }, { endStream: a.body === null });
    if (a.body) stream.end(a.body);
    a.done();
  });
}
