import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';

/** TODO(session): filled by the publish helper. */
export async function publishRoutes(_app: FastifyInstance, _ctx: RouteContext): Promise<void> {}
