import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from '../registry/registry.js';

/** Labels a request by the repo its first path segment names (or `-` for Larder's own routes). */
function labelsOf(registry: Registry, req: FastifyRequest): { repo: string; format: string } {
  const url = req.url;
  const end = url.indexOf('/', 1);
  const first = url.slice(1, end < 0 ? undefined : end).split('?')[0];
  const repo = registry.repos.get(first);
  return repo ? { repo: repo.name, format: repo.format } : { repo: '-', format: first === '-' ? 'larder' : '-' };
}

/** Request metrics and one JSON log line per request, with its request id. */
export function observe(app: FastifyInstance, registry: Registry): void {
  const { metrics } = registry;
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const labels = labelsOf(registry, req);
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ ...labels, status: String(reply.statusCode) });
    metrics.latency.observe(labels, seconds);
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, repo: labels.repo }, 'request');
  });
}
