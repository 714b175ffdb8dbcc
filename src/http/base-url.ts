import type { FastifyRequest } from 'fastify';
import type { LarderConfig } from '../core/config.js';

/** The external base URL: the configured public URL, else what the client used to reach us. */
export function publicBaseUrl(config: LarderConfig, req: FastifyRequest): string {
  return config.publicUrl ?? `${req.protocol}://${req.host}`;
}
