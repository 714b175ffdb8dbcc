import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from '../registry/registry.js';
import type { RequestSeries } from '../registry/request-stats.js';
import type { AccessLog } from './logger.js';
import type { RequestId } from './request-id.js';

/** Accounts for one answered request: metrics (its repo's series) and the access log line. */
export type RequestRecorder = (series: RequestSeries, status: number, ms: number, reqId: RequestId, method: string, url: string) => void;

/** The series of the repo a request's first path segment names (or `-` for Larder's own routes). */
function seriesOf(registry: Registry, req: FastifyRequest): RequestSeries {
  const url = req.url;
  const end = url.indexOf('/', 1);
  const first = url.slice(1, end < 0 ? undefined : end).split('?')[0];
  const repo = registry.repos.get(first);
  return repo ? registry.metrics.requests.of(repo.name, repo.format) : registry.metrics.requests.of('-', first === '-' ? 'larder' : '-');
}

/** The recorder behind every request, index reads included: plain counters, then the access log line. */
export function requestRecorder(accessLog: AccessLog | null): RequestRecorder {
  if (!accessLog) return (series, status, ms) => series.record(status, ms / 1000);
  return (series, status, ms, reqId, method, url) => {
    series.record(status, ms / 1000);
    accessLog(reqId, method, url, status, ms, series.repo);
  };
}

/** Request ids on every response, and the recorder run for every request Fastify answers. */
export function observe(app: FastifyInstance, registry: Registry, record: RequestRecorder): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    // Fastify's ids are requestIdOf's (server.ts, genReqId).
    record(seriesOf(registry, req), reply.statusCode, reply.elapsedTime, req.id as RequestId, req.method, req.url);
    done();
  });
}
