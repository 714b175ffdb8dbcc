import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';
import { cacheRoutes } from './cache-routes.js';
import { briocheErrorHandler } from './errors.js';
import { registryRoutes } from './registry-routes.js';

/** Every route of one Brioche repo: the registry at `registry/` and the cache at `cache/`. */
export async function briocheRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.setErrorHandler(briocheErrorHandler);
  await app.register(async (r) => registryRoutes(r, ctx), { prefix: '/registry' });
  await app.register(async (c) => cacheRoutes(c, ctx), { prefix: '/cache' });
}
