import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toLarderError } from '../../core/errors.js';

/**
 * Renders errors the way mooncakes.io answers and the `mooncake` client prints them: JSON
 * `{"detail": "<message>"}` (protocols/moonbit.md §9), with the stable code alongside for scripts.
 */
export function moonbitErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const e = toLarderError(err);
  if (e.status >= 500) req.log.error({ reqId: req.id, err }, 'moonbit request failed');
  reply.headers(e.headers).code(e.status).header('cache-control', 'no-cache').send({ detail: e.message, code: e.code });
}

/** A `{"detail"}` 404 that still asks a private repo's gate first (no existence leaks without a token). */
export function moonbitNotFound(gate: (req: FastifyRequest) => Promise<unknown>) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await gate(req);
    reply
      .code(404)
      .header('cache-control', 'no-cache')
      .send({ detail: `not found: ${req.url}`, code: 'NOT_FOUND' });
  };
}
