import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobHandle } from '../storage/blobs.js';

/**
 * Sends a stored archive byte for byte with constant memory (see BlobHandle.copyTo). The reply
 * is written by hand, so the headers set on `reply` so far are copied over; nothing may add a
 * Content-Encoding to an archive anyway.
 */
export async function sendBlob(req: FastifyRequest, reply: FastifyReply, blob: BlobHandle): Promise<void> {
  reply.header('content-length', String(blob.size));
  const headers = reply.getHeaders();
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, headers as Record<string, string>);
  try {
    if (req.method !== 'HEAD') await blob.copyTo(res);
    res.end();
  } catch (err) {
    // Headers are gone: all that is left is to cut the response short, so the client sees a truncated body.
    req.log.warn({ reqId: req.id, err }, 'download interrupted');
    res.destroy();
  }
}
