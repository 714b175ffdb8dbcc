import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../../http/format-plugin.js';

/** TODO(session): filled by the registry helper. */
export async function registryRoutes(_app: FastifyInstance, _ctx: RouteContext): Promise<void> {}
