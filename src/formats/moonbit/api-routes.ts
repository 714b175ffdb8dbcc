import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';

/** TODO(session): filled by the api helper. */
export async function apiRoutes(_app: FastifyInstance, _ctx: RouteContext): Promise<void> {}
