import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toLarderError } from '../../core/errors.js';

/**
 * Renders errors the way the reference registry does and brioche prints them: JSON
 * `{"error": "<message>"}` (protocols/brioche.md §2.4), with Larder's stable code alongside.
 */
export function briocheErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const e = toLarderError(err);
  if (e.status >= 500) req.log.error({ reqId: req.id, err }, 'brioche request failed');
  reply.headers(e.headers).code(e.status).header('cache-control', 'no-cache').send({ error: e.message, code: e.code });
}
