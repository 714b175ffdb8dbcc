import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toLarderError } from '../core/errors.js';

/** Renders any error as Larder's JSON API shape `{"error":{"code","message"}}`, logging server faults. */
export function jsonErrorHandler(what: string) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void => {
    const e = toLarderError(err);
    if (e.status >= 500) req.log.error({ reqId: req.id, err }, `${what} failed`);
    reply.headers(e.headers).code(e.status).send({ error: { code: e.code, message: e.message } });
  };
}
