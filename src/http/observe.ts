import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import type { Registry } from '../registry/registry.js';
import type { AccessLine } from './logger.js';

interface Labels {
  repo: string;
  format: string;
}

/** Labels a request by the repo its first path segment names (or `-` for Larder's own routes). */
function labelsOf(registry: Registry, req: FastifyRequest): Labels {
  const url = req.url;
  const end = url.indexOf('/', 1);
  const first = url.slice(1, end < 0 ? undefined : end).split('?')[0];
  const repo = registry.repos.get(first);
  return repo ? { repo: repo.name, format: repo.format } : { repo: '-', format: first === '-' ? 'larder' : '-' };
}

/**
 * Request metrics and one JSON log line per request, with its request id. This runs on every
 * request, index reads included, so labelled metric children are looked up once and reused.
 */
export function observe(app: FastifyInstance, registry: Registry, accessLog: ((line: AccessLine) => void) | null): void {
  const { metrics } = registry;
  const counters = new Map<string, Counter.Internal>();
  const timers = new Map<string, Histogram.Internal<'repo' | 'format'>>();
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const labels = labelsOf(registry, req);
    const status = reply.statusCode;
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
    timer.observe(reply.elapsedTime / 1000);
    accessLog?.({ reqId: req.id, method: req.method, url: req.url, status, ms: Math.round(reply.elapsedTime * 100) / 100, repo: labels.repo });
    done();
  });
}
