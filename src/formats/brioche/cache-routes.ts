/**
 * The Brioche cache over HTTP(S) at `/{repo}/cache/<key>` (protocols/brioche.md §3.2): immutable
 * objects with an exact Content-Length and no Content-Encoding, 404 for anything missing (brioche
 * then tries its next cache; any other status aborts the read), single ranges. Writes: the
 * forward-compatible `PUT <key>` with `If-None-Match: *` (§3.3); today's brioche writes through S3.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import type { RouteContext } from '../../http/format-plugin.js';
import { readGate, writeGate } from '../../http/gates.js';
import { sendArtifact } from '../../http/send-doc.js';
import { reserveUpload } from '../../registry/upload-budget.js';
import { parseCacheKey } from './keys.js';
import { KEY_SHAPES, putObject } from './objects.js';

/** Cache objects never change: any cache may keep them for a year. */
const OBJECT = { cacheControl: 'public, max-age=31536000, immutable' };
/** Objects are served as stored; nothing may compress them again (the client checks the size). */
const contentTypeOf = (key: string) => (key.endsWith('.json') ? 'application/json' : 'application/octet-stream');
/** Brioche's objects carry no date of their own: a fixed, valid HTTP-date (the client only parses it). */
const LAST_MODIFIED = new Date(0).toUTCString();

/** The key of a request: the path after `cache/`, with the `//` brioche sends for a base URL ending in `/` (trap 2) dropped. */
function keyOf(req: FastifyRequest): string {
  return (req.params as { '*': string })['*'].replace(/^\/+/, '');
}

/** Registers the cache routes of one Brioche repo (reads through its source, create-only writes to a hosted one). */
export async function cacheRoutes(app: FastifyInstance, { registry, repo, source }: RouteContext): Promise<void> {
  // brioche's HTTP backend sends no credentials: a private repo's cache is readable over S3 only (and with tokens here).
  const reader = readGate(
    registry.auth,
    repo,
    'brioche reads an HTTP cache without credentials: read a private cache through the S3 endpoint',
  );
  const gate = writeGate(
    registry.auth,
    repo,
    'this needs a token: send Authorization: Bearer <token> (brioche itself writes through the S3 endpoint)',
  );

  // Bodies are handed over as streams: putObject reads them bounded, after the key and the create-only check.
  // (Whatever the content type: source.json sent as application/json must reach putObject byte for byte.)
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, body, done) => done(null, body));

  app.get('/*', async (req: FastifyRequest, reply: FastifyReply) => {
    await reader(req);
    const key = keyOf(req);
    const found = parseCacheKey(key) ? await source.artifact(key) : null;
    if (!found) throw new LarderError('NOT_FOUND', `${key} is not in cache ${repo.name}`);
    reply.header('last-modified', LAST_MODIFIED);
    return sendArtifact(req, reply, found, { ...OBJECT, contentType: contentTypeOf(key) });
  });

  app.put(
    '/*',
    { onRequest: async (req) => void (await gate.check(req, 'publish')), preParsing: reserveUpload(registry.uploads) },
    async (req, reply) => {
      const key = keyOf(req);
      const body = req.body instanceof Readable ? req.body : req.raw;
      if (!parseCacheKey(key)) {
        body.resume();
        throw new LarderError('NAME_INVALID', `"${key}" is not a Brioche cache key: ${KEY_SHAPES}`);
      }
      const createOnly = req.headers['if-none-match']?.trim() === '*';
      const { created, sha256, sameBytes } = await putObject(registry, repo, gate.of(req), key, body, { createOnly });
      if (created) return reply.code(201).header('etag', `"${sha256}"`).send();
      // Create-only asks to be told the key exists (brioche takes 412 as "already there"). Without it, the same bytes
      // again are a success (a retried PUT); other bytes would overwrite an immutable object, so they are refused.
      return reply
        .code(!createOnly && sameBytes ? 200 : 412)
        .header('etag', `"${sha256}"`)
        .send();
    },
  );
}
