/**
 * Larder's S3-compatible endpoint at `/-/s3/{bucket}/{key…}` (path-style only): the object
 * operations Brioche's cache writes use (protocols/brioche.md §3.3) — create-only PutObject,
 * GetObject, HeadObject — over repos whose format has an object store (bucket = repo name).
 * Requests are authenticated by SigV4 with access keys bound to tokens (registry/s3-keys.ts).
 * Everything else S3 has answers 501 NotImplemented, naming the operation.
 */
import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError } from '../../core/errors.js';
import { permits, requirePermission, type Principal } from '../../registry/auth.js';
import type { ObjectStoreParts } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { requireHosted } from '../gates.js';
import { sendArtifact } from '../send-doc.js';
import { S3Error, s3ErrorHandler, s3Fail, sendS3Error } from './errors.js';
import { authenticateS3, requestParts } from './auth.js';

/** Where the endpoint is mounted. */
export const S3_PREFIX = '/-/s3';

/** What a request to the endpoint asks for, worked out from the method, path, query and headers alone. */
type Operation =
  | { op: 'PutObject' | 'GetObject' | 'HeadObject'; bucket: string; key: string }
  | { op: 'unsupported'; name: string; bucket: string | null; key: string | null };

// Query parameters that select another operation or sub-resource on an object or bucket.
const SUBRESOURCES: Record<string, string> = {
  uploads: 'multipart uploads (CreateMultipartUpload, ListMultipartUploads)',
  uploadId: 'multipart uploads (UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts)',
  partNumber: 'multipart uploads (UploadPart, GetObject by part)',
  acl: 'ACLs',
  tagging: 'object tagging',
  versionId: 'object versions',
  versions: 'object versions',
  delete: 'DeleteObjects',
  restore: 'RestoreObject',
  select: 'SelectObjectContent',
  attributes: 'GetObjectAttributes',
  retention: 'object lock',
  'legal-hold': 'object lock',
  torrent: 'GetObjectTorrent',
};

/** Classifies a request (path-style: `/{bucket}/{key}` below the prefix). */
export function operationOf(method: string, path: string, query: URLSearchParams, headers: FastifyRequest['headers']): Operation {
  const rest = path.replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  const bucket = decodeSegment(slash < 0 ? rest : rest.slice(0, slash)) || null;
  const key = slash < 0 ? null : decodeSegment(rest.slice(slash + 1)) || null;
  const unsupported = (name: string): Operation => ({ op: 'unsupported', name, bucket, key });
  if (!bucket) return unsupported('ListBuckets');
  if (!key) {
    const ops: Record<string, string> = {
      GET: 'ListObjects',
      HEAD: 'HeadBucket',
      PUT: 'CreateBucket',
      DELETE: 'DeleteBucket',
      POST: 'DeleteObjects',
    };
    return unsupported(`${ops[method] ?? method} (bucket operations)`);
  }
  for (const q of query.keys()) if (q in SUBRESOURCES) return unsupported(SUBRESOURCES[q]!);
  if (method === 'PUT' && headers['x-amz-copy-source'] !== undefined) return unsupported('CopyObject');
  if (method === 'PUT') return { op: 'PutObject', bucket, key };
  if (method === 'GET') return { op: 'GetObject', bucket, key };
  if (method === 'HEAD') return { op: 'HeadObject', bucket, key };
  if (method === 'DELETE') return unsupported('DeleteObject (cache objects are immutable and kept)');
  return unsupported(`${method} on an object`);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    s3Fail('InvalidURI', 400, `the path "${s}" is not valid percent-encoding`);
  }
}

/** The object store and source behind a bucket name, or NoSuchBucket. */
function bucketOf(registry: Registry, bucket: string): { repo: Repo; store: ObjectStoreParts } {
  const repo = registry.repos.get(bucket);
  const store = repo ? registry.formats.get(repo.format)?.objectStore : undefined;
  if (!repo || !store) {
    s3Fail(
      'NoSuchBucket',
      404,
      `there is no bucket "${bucket}": buckets are the names of repositories whose format takes S3 writes (brioche)`,
    );
  }
  return { repo, store };
}

interface Checked {
  op: Extract<Operation, { op: 'PutObject' | 'GetObject' | 'HeadObject' }>;
  repo: Repo;
  store: ObjectStoreParts;
  principal: Principal | null;
  payloadHash: string | null;
}

/** Registers the endpoint (call with `prefix: S3_PREFIX`). */
export async function s3Routes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  app.setErrorHandler(s3ErrorHandler);
  // Bodies are streamed to the object store, whatever their type (object_store sends none).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const checked = new WeakMap<FastifyRequest, Checked>();
  // Credentials and permissions from the headers alone, before a byte of a body is read.
  const onRequest = async (req: FastifyRequest) => {
    const parts = requestParts(req, S3_PREFIX);
    const auth = await authenticateS3(registry, req, parts);
    const op = operationOf(req.method, parts.path, new URLSearchParams(parts.rawQuery), req.headers);
    if (op.op === 'unsupported')
      s3Fail('NotImplemented', 501, `Larder's S3 endpoint does not implement ${op.name}; it serves PutObject, GetObject and HeadObject`);
    const { repo, store } = bucketOf(registry, op.bucket);
    const p = auth?.principal ?? null;
    if (op.op === 'PutObject') {
      if (!p)
        s3Fail(
          'AccessDenied',
          403,
          'PutObject needs a signed request: create an access key with `larder token create --s3 --scopes publish`',
        );
      requireHosted(repo);
      // Objects are content-addressed, not owned by a package: the scope and repository decide.
      requirePermission(p, 'publish', repo.name);
    } else if (repo.visibility === 'private') {
      if (!p)
        s3Fail('AccessDenied', 403, `bucket ${repo.name} is private: sign the request with an access key (\`larder token create --s3\`)`);
      if (!permits(p, 'read', repo.name)) throw new LarderError('REPO_NOT_PERMITTED', `this access key may not read ${repo.name}`);
    }
    checked.set(req, { op, repo, store, principal: p, payloadHash: auth?.payloadHash ?? null });
  };

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH'],
    url: '/*',
    onRequest,
    handler: async (req, reply) => {
      const c = checked.get(req)!;
      reply.header('x-amz-request-id', req.id);
      if (c.op.op === 'PutObject') return putObject(registry, req, reply, c);
      return getObject(registry, req, reply, c);
    },
  });
}

async function getObject(registry: Registry, req: FastifyRequest, reply: FastifyReply, c: Checked): Promise<void> {
  const source = registry.sources.get(c.repo.name);
  const artifact = source ? await source.artifact(c.op.key) : null;
  if (!artifact) {
    sendS3Error(req, reply, new LarderError('NOT_FOUND', `the key ${c.op.key} does not exist in ${c.repo.name}`), { Key: c.op.key });
    return;
  }
  const row = await registry.db.selectFrom('blobs').select('created_at').where('sha256', '=', artifact.sha256).executeTakeFirst();
  // Required by object_store's S3 client on GET/HEAD: when the bytes were first stored.
  reply.header('last-modified', new Date(row ? Number(row.created_at) : 0).toUTCString());
  const visibility = c.repo.visibility === 'private' ? 'private' : 'public';
  await sendArtifact(req, reply, artifact, {
    contentType: 'application/octet-stream',
    cacheControl: `${visibility}, max-age=31536000, immutable`,
  });
}

async function putObject(registry: Registry, req: FastifyRequest, reply: FastifyReply, c: Checked): Promise<FastifyReply> {
  const { maxArchiveSize } = registry.config.limits;
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*')
    s3Fail('NotImplemented', 501, 'PutObject takes only `If-None-Match: *` (create-only); objects here are immutable');
  if (req.headers['if-match'] !== undefined)
    s3Fail('NotImplemented', 501, 'PutObject with If-Match is not implemented: objects here are immutable');
  const payload = c.payloadHash ?? '';
  if (payload.startsWith('STREAMING-') || /aws-chunked/i.test(String(req.headers['content-encoding'] ?? ''))) {
    s3Fail(
      'NotImplemented',
      501,
      `aws-chunked uploads (${payload || 'Content-Encoding: aws-chunked'}) are not implemented: send the body whole, with its hex sha256 or UNSIGNED-PAYLOAD in x-amz-content-sha256`,
    );
  }
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined) s3Fail('MissingContentLength', 411, 'PutObject needs a Content-Length header');
  const length = Number(lengthHeader);
  if (length > maxArchiveSize)
    s3Fail(
      'EntityTooLarge',
      413,
      `the object is ${length} bytes, more than this server's limits.max_archive_size (${maxArchiveSize} bytes)`,
    );
  const exists = (what: string) =>
    ifNoneMatch !== undefined
      ? s3Fail('PreconditionFailed', 412, `At least one of the pre-conditions you specified did not hold: ${what} already exists`)
      : s3Fail('PreconditionFailed', 412, `${what} already exists, and objects here are immutable: a PUT never overwrites one`);
  const what = `the key ${c.op.key} in ${c.repo.name}`;
  const createOnly = ifNoneMatch !== undefined;
  // Create-only: answered before the body is read; the store's own create-only check below is the one that counts.
  // A plain PUT of an existing key is answered once its body is compared: the same bytes again (a retry) succeed.
  if (createOnly && (await registry.sources.get(c.repo.name)?.artifact(c.op.key))) exists(what);

  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string).trim() : undefined);
  const checksums = { crc32: header('x-amz-checksum-crc32'), sha256: header('x-amz-checksum-sha256') };
  const body = checkedBody((req.body ?? req.raw) as Readable, payload, maxArchiveSize, checksums);
  const { created, sha256, sameBytes } = await c.store.putObject(registry, c.repo, c.principal!, c.op.key, body, { createOnly });
  if (!created && (createOnly || !sameBytes)) exists(what);
  return reply.code(200).header('etag', `"${sha256}"`).send();
}

/** The x-amz-checksum-* headers (base64) a body is checked against; others are not checked. */
export interface BodyChecksums {
  crc32?: string;
  sha256?: string;
}

/**
 * The body as the store reads it: past `maxSize` bytes it errors (EntityTooLarge), and when the
 * client signed a sha256 of the payload, a different body errors at its end instead of ending
 * (XAmzContentSHA256Mismatch), so the store, which commits only after the stream ends, keeps nothing.
 */
export function checkedBody(source: Readable, payloadHash: string, maxSize: number, checksums: BodyChecksums = {}): Readable {
  const expected = /^[0-9a-f]{64}$/.test(payloadHash) ? payloadHash : null;
  if (!expected && payloadHash !== 'UNSIGNED-PAYLOAD')
    s3Fail('InvalidArgument', 400, 'x-amz-content-sha256 must be the hex sha256 of the body or UNSIGNED-PAYLOAD');
  const hash = createHash('sha256');
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxSize)
        return done(
          new LarderError('ARCHIVE_TOO_LARGE', `the object is larger than this server's limits.max_archive_size (${maxSize} bytes)`),
        );
      hash.update(chunk);
      if (checksums.crc32 !== undefined) crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      const got = hash.digest('hex');
      if (expected && got !== expected) {
        return done(
          new S3Error(
            'XAmzContentSHA256Mismatch',
            400,
            `the body's sha256 is ${got}, not the ${expected} sent in x-amz-content-sha256; nothing was stored`,
          ),
        );
      }
      // The SDKs' flexible checksums (x-amz-checksum-*), the only integrity check of an UNSIGNED-PAYLOAD body.
      const digest = Buffer.from(got, 'hex').toString('base64');
      const crcB64 = Buffer.from([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255]).toString('base64');
      if (checksums.sha256 !== undefined && checksums.sha256 !== digest)
        return done(new S3Error('BadDigest', 400, `the body's SHA-256 does not match x-amz-checksum-sha256; nothing was stored`));
      if (checksums.crc32 !== undefined && checksums.crc32 !== crcB64)
        return done(new S3Error('BadDigest', 400, `the body's CRC32 does not match x-amz-checksum-crc32; nothing was stored`));
      done();
    },
  });
  return pipeline(source, check, () => {});
}
