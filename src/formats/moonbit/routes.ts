import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';
import { readGate } from '../../http/gates.js';
import { apiRoutes } from './api-routes.js';
import { moonbitErrorHandler, moonbitNotFound } from './errors.js';
import { publishRoutes } from './publish-routes.js';
import { readRoutes } from './read-routes.js';

/** What a client of a private repo must do to read it: moon sends no credentials itself, git can (§3.1, trap 14). */
export const MOONBIT_READ_HOWTO =
  'moon sends no credentials: give git a token (a credential helper, or https://<user>:<token>@host/... in MOONCAKES_REGISTRY)';

/** Every route of one MoonBit repo: the git index, archives, symbols, moon's API and publishing. */
export async function moonbitRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.setErrorHandler(moonbitErrorHandler);
  app.setNotFoundHandler(moonbitNotFound(readGate(ctx.registry.auth, ctx.repo, MOONBIT_READ_HOWTO)));
  await readRoutes(app, ctx);
  await apiRoutes(app, ctx);
  await publishRoutes(app, ctx);
}
