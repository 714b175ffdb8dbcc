/**
 * What a blob store that cannot be reached or used looks like to a client: BLOB_STORE_UNAVAILABLE (503) with
 * Retry-After, and a message that names the store and the cause (an errno or S3 error code, never a credential,
 * a query string or an SDK message) so an operator knows what to check. "Not found" is not an outage: the stores
 * keep answering null/false for a missing object.
 */
import { LarderError } from '../core/errors.js';

/** Seconds a client (or a load balancer) is told to wait before retrying: long enough for a store restart to be noticed. */
export const RETRY_AFTER_SECONDS = 5;

/** What was being done, which decides what the client is told happened. */
export type BlobOperation = 'write' | 'read' | 'check' | 'remove';

const CONSEQUENCE: Record<BlobOperation, string> = {
  write: 'nothing was stored; retry later',
  read: 'the file cannot be sent now; retry later',
  check: 'publishes and downloads answer 503 until it is back',
  remove: 'nothing was removed; retry later',
};

/** The error for `store` (how the message names it) failing with `problem` during `op`; `cause` is kept for the server log. */
export function blobStoreUnavailable(store: string, problem: string, op: BlobOperation, cause: unknown): LarderError {
  const err = new LarderError('BLOB_STORE_UNAVAILABLE', `${store} ${problem}; ${CONSEQUENCE[op]}`, {
    'retry-after': String(RETRY_AFTER_SECONDS),
  });
  err.cause = cause;
  return err;
}

/** True for the error above (callers that must not blame someone else for it, e.g. an upstream's health). */
export function isBlobStoreUnavailable(err: unknown): err is LarderError {
  return err instanceof LarderError && err.code === 'BLOB_STORE_UNAVAILABLE';
}

const ERRNO_TEXT: Record<string, string> = {
  EIO: 'input/output error',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a file is where a directory is expected',
  EISDIR: 'a directory is where a file is expected',
  ENOENT: 'the directory is missing',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ESTALE: 'stale network file handle',
  ETIMEDOUT: 'timed out',
};

/** "cannot be used (ENOSPC: no space left on device)" for a filesystem error. */
export function fsProblem(err: unknown): string {
  const code = errCode(err);
  if (!code) return 'cannot be used';
  return `cannot be used (${code}${ERRNO_TEXT[code] ? `: ${ERRNO_TEXT[code]}` : ''})`;
}

/** Connection failures: the endpoint is down, unknown, or unreachable, as opposed to answering with an error. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
]);

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  errors?: unknown[];
}

/** True when S3 answered that the object is not there (HEAD's bodiless 404 or GET's NoSuchKey), not that the bucket is missing. */
export function isS3NotFound(err: unknown): boolean {
  const e = err as SdkError;
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** True when S3 refused the request for lack of permission (AWS answers 403 to a HEAD of a missing key without s3:ListBucket). */
export function isS3AccessDenied(err: unknown): boolean {
  const e = err as SdkError;
  return e?.$metadata?.httpStatusCode === 403;
}

/**
 * "cannot be reached (ECONNREFUSED)", "did not answer in time", "answered AccessDenied (HTTP 403)": only codes and
 * statuses, because SDK messages may quote request details.
 */
export function s3Problem(err: unknown): string {
  const e = err as SdkError;
  const code = errCode(err);
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || code === 'ETIMEDOUT') return 'did not answer in time (timed out)';
  if (code && NETWORK_CODES.has(code)) return `cannot be reached (${code})`;
  if (e?.name === 'CredentialsProviderError')
    return 'cannot be signed for (no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role)';
  const status = e?.$metadata?.httpStatusCode;
  if (status) return `answered ${safeName(e.name) ?? 'an error'} (HTTP ${status})`;
  return `cannot be reached (${safeName(e?.name) ?? code ?? 'unknown error'})`;
}

/** The error's errno-style code; for AggregateError (several addresses tried), the first inner one's. */
function errCode(err: unknown): string | undefined {
  const e = err as SdkError;
  if (typeof e?.code === 'string') return e.code;
  const inner = Array.isArray(e?.errors) ? (e.errors[0] as SdkError | undefined) : undefined;
  return typeof inner?.code === 'string' ? inner.code : undefined;
}

/** An error name is echoed only when it looks like a code (S3 error codes are CamelCase words). */
function safeName(name: string | undefined): string | undefined {
  return name && /^[A-Za-z0-9]{1,64}$/.test(name) && name !== 'Error' ? name : undefined;
}

/** Time a readiness check may take before the store counts as unavailable. */
export const CHECK_TIMEOUT_MS = 3_000;

/** `work`, or a rejection with `onTimeout()` after `ms` (the work goes on in the background; its outcome is ignored). */
export async function bounded<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
