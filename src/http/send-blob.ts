import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobHandle } from '../storage/blobs.js';

/** A single `bytes=a-b` range (suffix and open forms too), 'unsatisfiable', or null for a whole-body request. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Multiple ranges and other units: answer with the whole body, which RFC 9110 allows.
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/**
 * Sends a stored archive byte for byte with constant memory (see BlobHandle.copyTo), or one
 * range of it (clients resume interrupted downloads). The reply is written by hand, so the
 * headers set on `reply` so far are copied over; nothing may add a Content-Encoding to an archive.
 * Resolves to true when this was a download to count: a GET whose body (whole, or a range from
 * byte 0) was sent to the end; false for HEAD, 416, a later range (a resumed download) or a cut-off send.
 */
export async function sendBlob(req: FastifyRequest, reply: FastifyReply, blob: BlobHandle): Promise<boolean> {
  reply.header('accept-ranges', 'bytes');
  const range = parseRange(req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    reply.code(416).header('content-range', `bytes */${blob.size}`).send();
    return false;
  }
  reply.header('content-length', String(range ? range.end - range.start + 1 : blob.size));
  if (range) reply.header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
  const headers = reply.getHeaders();
  reply.hijack();
  const res = reply.raw;
  res.writeHead(range ? 206 : 200, headers as Record<string, string>);
  try {
    if (req.method === 'HEAD') {
      res.end();
      return false;
    }
    if (range) await pipeline(blob.stream(range), res);
    else {
      await blob.copyTo(res);
      res.end();
    }
    return range === null || range.start === 0;
  } catch (err) {
    // Headers are gone: all that is left is to cut the response short, so the client sees a truncated body.
    req.log.warn({ reqId: req.id, err }, 'download interrupted');
    res.destroy();
    return false;
  }
}
