import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';
import { moonbitReader } from './access.js';
import { apiRoutes } from './api-routes.js';
import { moonbitErrorHandler, moonbitNotFound } from './errors.js';
import { publishRoutes } from './publish-routes.js';
import { readRoutes } from './read-routes.js';

export { MOONBIT_READ_HOWTO } from './access.js';

/** Every route of one MoonBit repo: the git index, archives, symbols, moon's API and publishing. */
export async function moonbitRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  // Every error, ours or Fastify's, reaches moon as `{"detail": …}` (§9).
  app.setErrorHandler(moonbitErrorHandler);
  app.setNotFoundHandler(moonbitNotFound(moonbitReader(ctx)));
  await readRoutes(app, ctx);
  await apiRoutes(app, ctx);
  await publishRoutes(app, ctx);
}
