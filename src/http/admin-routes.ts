import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { publicBaseUrl } from './base-url.js';
import type { Registry } from '../registry/registry.js';
import { apiUsersRoutes } from './api-users.js';
import { ownersApiRoutes } from './api-owners.js';

/** Larder's own routes: health, readiness, metrics, and the repository list. */
export async function adminRoutes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  await app.register(apiUsersRoutes, { registry });
  app.get('/-/healthz', async () => ({ status: 'ok' }));

  app.get('/-/readyz', async (_req, reply) => {
    try {
      await sql`select 1`.execute(registry.db);
      return { status: 'ready', database: registry.dialect };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', database: registry.dialect, error: (err as Error).message });
    }
  });

  app.get('/-/metrics', async (_req, reply) => {
    reply.type(registry.metrics.registry.contentType);
    return registry.metrics.registry.metrics();
  });

  await app.register(ownersApiRoutes, { registry });

  app.get('/-/api/repos', async (req) => {
    const base = publicBaseUrl(registry.config, req);
    return {
      repos: [...registry.repos.values()].map((repo) => {
        const setup = registry.formats.get(repo.format)?.clientSetup(repo, base, {});
        return { name: repo.name, format: repo.format, kind: repo.kind, visibility: repo.visibility, url: setup?.url ?? null };
      }),
    };
  });
}
