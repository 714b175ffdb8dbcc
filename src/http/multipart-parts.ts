import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { fail, LarderError } from '../core/errors.js';

/**
 * Reads a multipart request body with `read`, which gets its parts. busboy's own errors (no
 * `boundary=`, no closing boundary, a truncated part, surfacing from the iteration or from a
 * part's stream) are the client's: they become a 400 that says how to frame the body, not a 500.
 */
export async function readMultipart<T>(req: FastifyRequest, read: (parts: AsyncIterable<Multipart>) => Promise<T>): Promise<T> {
  try {
    return await read(req.parts());
  } catch (err) {
    if (err instanceof LarderError || (err as { statusCode?: number }).statusCode !== undefined) throw err;
    fail(
      'BODY_MALFORMED',
      `the multipart body is malformed (${(err as Error).message}); send multipart/form-data with a boundary= parameter, each part framed by it, and the closing boundary`,
    );
  }
}
