/**
 * Errors as S3 clients parse them: `<Error><Code>…</Code><Message>…</Message>…</Error>` with the
 * status S3 uses for that code. The S3-only conditions (signatures, clock skew) are S3Errors; any
 * LarderError from the shared services is mapped to the S3 code a client acts on.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LarderError, toLarderError, type ErrorCode } from '../../core/errors.js';

/** An error in S3's own vocabulary (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). */
export class S3Error extends Error {
  constructor(
    readonly s3Code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Shorthand for throwing an S3Error. */
export function s3Fail(s3Code: string, status: number, message: string): never {
  throw new S3Error(s3Code, status, message);
}

/** The S3 code and status for each Larder error a request to the endpoint may meet. */
const FROM_LARDER: Partial<Record<ErrorCode, [string, number]>> = {
  AUTH_REQUIRED: ['AccessDenied', 403],
  TOKEN_INVALID: ['InvalidAccessKeyId', 403],
  TOKEN_REVOKED: ['InvalidAccessKeyId', 403],
  TOKEN_EXPIRED: ['ExpiredToken', 403],
  SCOPE_MISSING: ['AccessDenied', 403],
  REPO_NOT_PERMITTED: ['AccessDenied', 403],
  PACKAGE_NOT_PERMITTED: ['AccessDenied', 403],
  NOT_OWNER: ['AccessDenied', 403],
  NOT_FOUND: ['NoSuchKey', 404],
  REPO_NOT_FOUND: ['NoSuchBucket', 404],
  REPO_READ_ONLY: ['MethodNotAllowed', 405],
  METHOD_NOT_ALLOWED: ['MethodNotAllowed', 405],
  BODY_TOO_LARGE: ['EntityTooLarge', 413],
  ARCHIVE_TOO_LARGE: ['EntityTooLarge', 413],
  LENGTH_REQUIRED: ['MissingContentLength', 411],
  REQUEST_TIMEOUT: ['RequestTimeout', 400],
  NOT_SUPPORTED: ['NotImplemented', 501],
  UNAVAILABLE: ['ServiceUnavailable', 503],
  UPLOAD_BUDGET_EXHAUSTED: ['SlowDown', 503],
  BLOB_STORE_UNAVAILABLE: ['ServiceUnavailable', 503],
};

/** Maps anything thrown to an S3Error: other 4xx become InvalidArgument, faults InternalError (without details). */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  const e = err instanceof LarderError ? err : toLarderError(err);
  const mapped = FROM_LARDER[e.code];
  if (mapped) return new S3Error(mapped[0], mapped[1], e.message);
  if (e.status >= 500) return new S3Error(e.status === 500 ? 'InternalError' : 'ServiceUnavailable', e.status, e.message);
  if (e.status === 409) return new S3Error('OperationAborted', 409, e.message);
  return new S3Error('InvalidArgument', 400, e.message);
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The XML body of an S3 error. */
export function errorXml(e: S3Error, resource: string, requestId: string, extra: Record<string, string> = {}): string {
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${e.s3Code}</Code><Message>${xmlEscape(e.message)}</Message>${fields}` +
    `<Resource>${xmlEscape(resource)}</Resource><RequestId>${xmlEscape(requestId)}</RequestId></Error>`
  );
}

/** Sends an S3 error: XML body (none on HEAD), `x-amz-request-id`, never cached. */
export function sendS3Error(req: FastifyRequest, reply: FastifyReply, err: unknown, extra: Record<string, string> = {}): FastifyReply {
  const e = toS3Error(err);
  if (e.status >= 500 && !(err instanceof S3Error)) req.log.error({ reqId: req.id, err }, 's3 request failed');
  const resource = (req.raw.url ?? '/').split('?')[0]!;
  // A 503's Retry-After goes along (the SDKs back off); other catalogue headers (challenges) mean nothing to S3 clients.
  const retryAfter = err instanceof LarderError ? err.headers['retry-after'] : undefined;
  if (retryAfter) reply.header('retry-after', retryAfter);
  reply.code(e.status).header('x-amz-request-id', req.id).header('cache-control', 'no-cache');
  if (req.method === 'HEAD') return reply.send();
  return reply.type('application/xml').send(errorXml(e, resource, req.id, extra));
}

/** The S3 endpoint's error handler. */
export function s3ErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  sendS3Error(req, reply, err);
}
