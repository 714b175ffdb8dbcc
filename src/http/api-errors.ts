import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toLarderError } from '../core/errors.js';

/** Renders any error as Larder's JSON API shape `{"error":{"code","message"}}`, logging server faults. */
export function jsonErrorHandler(what: string) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void => {
    const e = toLarderError(err);
    if (e.status >= 500) req.log.error({ reqId: req.id, err }, `${what} failed`);
    reply
      .headers(e.headers)
      .code(e.status)
      .send({ error: { code: e.code, message: e.message } });
  };
}

/**
 * Renders errors as one line of plain text (what Bazel and Pkg print) with no-cache, plus a
 * `WWW-Authenticate` challenge on 401 when the client understands one.
 */
export function plainErrorHandler(what: string, challenge?: string) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void => {
    const e = toLarderError(err);
    if (e.status >= 500) req.log.error({ reqId: req.id, err }, `${what} failed`);
    if (e.status === 401 && challenge) reply.header('www-authenticate', challenge);
    reply.headers(e.headers).code(e.status).header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(`${e.message}\n`);
  };
}

/** A plain-text 404 that still asks a private repo's gate first (no existence leaks without a token). */
export function plainNotFound(gate: (req: FastifyRequest) => Promise<unknown>) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await gate(req);
    reply.code(404).header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send(`not found: ${req.url}\n`);
  };
}
