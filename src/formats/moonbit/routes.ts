import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';
import { apiRoutes } from './api-routes.js';
import { publishRoutes } from './publish-routes.js';
import { readRoutes } from './read-routes.js';

/** Every route of one MoonBit repo: the git index, archives, symbols, moon's API and publishing. */
export async function moonbitRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  await readRoutes(app, ctx);
  await apiRoutes(app, ctx);
  await publishRoutes(app, ctx);
}
