import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { fail, LarderError } from '../core/errors.js';

/**
 * The parts of a multipart request body. busboy's own errors (no `boundary=`, no closing
 * boundary, a truncated part) are the client's: they become a 400 that says how to frame the
 * body, instead of escaping as a 500.
 */
export async function* multipartParts(req: FastifyRequest): AsyncGenerator<Multipart> {
  try {
    for await (const part of req.parts()) yield part;
  } catch (err) {
    if (err instanceof LarderError || (err as { statusCode?: number }).statusCode !== undefined) throw err;
    fail('BODY_MALFORMED', `the multipart body is malformed (${(err as Error).message}); send multipart/form-data with a boundary= parameter, each part framed by it, and the closing boundary`);
  }
}
