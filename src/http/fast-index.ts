import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { FastIndexRoute } from '../registry/format.js';
import type { IndexDocs } from '../registry/index-docs.js';
import type { RequestRecorder } from './observe.js';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/**
 * Answers reads of cached public index documents before the router: Fastify's routing, hooks
 * and reply machinery cost more than the read itself. Anything else — a miss, a cached 404,
 * a private repo, a query string, an encoded path — returns false and goes through Fastify,
 * whose route answers with the same headers and fills the cache for next time.
 */
export function fastIndexReader(routes: FastIndexRoute[], docs: IndexDocs, record: RequestRecorder): (req: Req, res: Res) => boolean {
  const byFirstSegment = new Map(routes.map((r) => [r.prefix.split('/')[1], r]));
  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (url.includes('?') || url.includes('%') || url.includes('//')) return false;
    const route = byFirstSegment.get(url.slice(1, url.indexOf('/', 1)));
    if (!route || !url.startsWith(route.prefix)) return false;
    const path = route.docPath(url.slice(route.prefix.length));
    const doc = path === null ? undefined : docs.peek(route.repoId, path);
    if (!doc) return false;
    const started = performance.now();
    const incomingId = req.headers['x-request-id'];
    const reqId = typeof incomingId === 'string' && incomingId ? incomingId : randomUUID();
    const inm = req.headers['if-none-match'];
    const fresh = inm !== undefined && (inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === doc.etag));
    const status = fresh ? 304 : 200;
    const headers: Record<string, string | number> = {
      'x-request-id': reqId,
      etag: doc.etag,
      'last-modified': doc.lastModified,
      'cache-control': route.cacheControl,
    };
    if (!fresh) {
      headers['content-type'] = route.contentType;
      headers['content-length'] = doc.body.length;
    }
    res.writeHead(status, headers);
    if (fresh || method === 'HEAD') res.end();
    else res.end(doc.body);
    record({ repo: route.repo, format: route.format }, status, performance.now() - started, reqId, method, url);
    return true;
  };
}
