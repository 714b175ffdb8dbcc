import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';

/** TODO(session): filled by the cache helper. */
export async function cacheRoutes(_app: FastifyInstance, _ctx: RouteContext): Promise<void> {}
