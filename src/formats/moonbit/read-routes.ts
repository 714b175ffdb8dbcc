import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';

/** TODO(session): filled by the read helper. */
export async function readRoutes(_app: FastifyInstance, _ctx: RouteContext): Promise<void> {}
