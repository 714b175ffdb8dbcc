/** Answering from a source: documents with their validators (and 304), artifacts as immutable blobs. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SourceArtifact, SourceDoc } from '../registry/source.js';
import { etagMatches, notModified } from './conditional.js';
import { sendBlob } from './send-blob.js';

/** Set on a document a proxy served from its cache because the upstream could not be reached. */
export const STALE_HEADER = 'x-larder-stale';

/** How a kind of file is labelled for its client. */
export interface Presentation {
  contentType: string;
  cacheControl: string;
}

/** Sends a document byte for byte with ETag and Last-Modified, or 304 when the client's copy is current. */
export function sendDoc(req: FastifyRequest, reply: FastifyReply, doc: SourceDoc, how: Presentation): FastifyReply {
  reply.header('etag', doc.etag).header('last-modified', doc.lastModified).header('cache-control', how.cacheControl);
  if (doc.stale)
    reply.header(STALE_HEADER, 'upstream unreachable; this is the last copy fetched').header('warning', '110 - "Response is Stale"');
  if (notModified(req.headers, doc.etag, doc.updatedAt)) return reply.code(304).send();
  return reply.type(how.contentType).send(doc.body);
}

/**
 * Sends an immutable artifact (ETag = its sha256), honouring If-None-Match and Range; never with a Content-Encoding.
 * Every artifact leaves through here, so downloads are counted here: a GET sent in full (or a range from byte 0);
 * not HEAD, not a 304, not the rest of a resumed download.
 */
export async function sendArtifact(req: FastifyRequest, reply: FastifyReply, artifact: SourceArtifact, how: Presentation): Promise<void> {
  const etag = `"${artifact.sha256}"`;
  reply.header('content-type', how.contentType).header('cache-control', how.cacheControl).header('etag', etag);
  if (etagMatches(req.headers['if-none-match'], etag)) {
    reply.code(304).send();
    return;
  }
  if (await sendBlob(req, reply, artifact.blob)) artifact.countDownload?.();
}
