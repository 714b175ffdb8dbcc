import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import type { Registry } from '../registry/registry.js';
import type { AccessLine } from './logger.js';

export interface Labels {
  repo: string;
  format: string;
}

/** Accounts for one answered request: metrics and the access log line. */
export type RequestRecorder = (labels: Labels, status: number, ms: number, reqId: string, method: string, url: string) => void;

/** Labels a request by the repo its first path segment names (or `-` for Larder's own routes). */
function labelsOf(registry: Registry, req: FastifyRequest): Labels {
  const url = req.url;
  const end = url.indexOf('/', 1);
  const first = url.slice(1, end < 0 ? undefined : end).split('?')[0];
  const repo = registry.repos.get(first);
  return repo ? { repo: repo.name, format: repo.format } : { repo: '-', format: first === '-' ? 'larder' : '-' };
}

/**
 * The recorder behind every request, index reads included, so labelled metric children are
 * looked up once and reused.
 */
export function requestRecorder(registry: Registry, accessLog: ((line: AccessLine) => void) | null): RequestRecorder {
  const { metrics } = registry;
  const counters = new Map<string, Counter.Internal>();
  const timers = new Map<string, Histogram.Internal<'repo' | 'format'>>();
  return (labels, status, ms, reqId, method, url) => {
    const key = `${labels.repo}\0${labels.format}`;
    let counter = counters.get(`${key}\0${status}`);
    if (!counter) {
      counter = metrics.requests.labels(labels.repo, labels.format, String(status));
      counters.set(`${key}\0${status}`, counter);
    }
    let timer = timers.get(key);
    if (!timer) {
      timer = metrics.latency.labels(labels.repo, labels.format);
      timers.set(key, timer);
    }
    counter.inc();
    timer.observe(ms / 1000);
    accessLog?.({ reqId, method, url, status, ms: Math.round(ms * 100) / 100, repo: labels.repo });
  };
}

/** Request ids on every response, and the recorder run for every request Fastify answers. */
export function observe(app: FastifyInstance, registry: Registry, record: RequestRecorder): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    record(labelsOf(registry, req), reply.statusCode, reply.elapsedTime, req.id, req.method, req.url);
    done();
  });
}
