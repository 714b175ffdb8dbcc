/**
 * The one error catalogue. Every error Larder answers with has a stable code and an
 * HTTP status here; formats decide only how to render it for their client.
 */
export const ErrorCatalogue = {
  // Authentication and authorisation
  AUTH_REQUIRED: 401,
  TOKEN_INVALID: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_REVOKED: 401,
  SCOPE_MISSING: 403,
  REPO_NOT_PERMITTED: 403,
  PACKAGE_NOT_PERMITTED: 403,
  NOT_OWNER: 403,
  // A browser form without the session's CSRF token (web UI): refused before anything changes.
  CSRF_INVALID: 403,
  // Lookups
  NOT_FOUND: 404,
  REPO_NOT_FOUND: 404,
  PACKAGE_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // A git repository served for clone and fetch only (MoonBit's index: moon expects a push to get 403).
  GIT_PUSH_REFUSED: 403,
  REPO_READ_ONLY: 405,
  // Bad input
  BODY_MALFORMED: 400,
  BODY_TOO_LARGE: 413,
  METADATA_INVALID: 400,
  NAME_INVALID: 400,
  VERSION_INVALID: 400,
  DEPENDENCY_INVALID: 400,
  ARCHIVE_INVALID: 400,
  ARCHIVE_TOO_LARGE: 413,
  MANIFEST_MISMATCH: 400,
  OWNER_INVALID: 400,
  LAST_OWNER: 400,
  // Conflicts
  VERSION_EXISTS: 409,
  NAME_COLLISION: 409,
  USER_EXISTS: 409,
  // Configuration and internal
  CONFIG_INVALID: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  // Outbound: a URL a request names that the server will not fetch ([outbound] in larder.toml)
  URL_NOT_ALLOWED: 400,
  // Operations (backup, restore)
  TARGET_NOT_EMPTY: 409,
  BACKUP_INVALID: 400,
  NOT_SUPPORTED: 501,
  // Appended (codes are append-only)
  TOKEN_TOO_WIDE: 403,
  REQUEST_TIMEOUT: 408,
  // Appended (issue 8): uploads that cannot be buffered now.
  UPLOAD_BUDGET_EXHAUSTED: 503,
  LENGTH_REQUIRED: 411,
  // Appended (issue 9): an upstream a proxy repository reads failed, did not answer in time, or sent
  // bytes that do not match what its index promised. Never a 404: Bazel would fall through to another registry.
  UPSTREAM_FAILED: 502,
  UPSTREAM_TIMEOUT: 504,
  UPSTREAM_INTEGRITY: 502,
  // Appended (issue 11): Brioche's registry answers a tag update without any Authorization with 403
  // "credentials required" (its reference server does; 401 is for a wrong password).
  CREDENTIALS_REQUIRED: 403,
  // Appended (issue 13): the database or the blob store cannot be reached. Nothing was changed; the
  // client (or a load balancer) may retry, and cached index documents are still served meanwhile.
  DATABASE_UNAVAILABLE: 503,
  BLOB_STORE_UNAVAILABLE: 503,
  // Appended (issue 16): a publish the repository's policy does not allow (a Bazel repo's bazel_policy); the message
  // names the setting, which an operator may change in larder.toml.
  POLICY_REFUSED: 403,
} as const;

export type ErrorCode = keyof typeof ErrorCatalogue;

/** An error a client may see: its code is stable, its message says what to fix. */
export class LarderError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (for example a WWW-Authenticate challenge). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'LarderError';
    this.code = code;
    this.status = ErrorCatalogue[code];
    this.headers = headers;
  }
}

/** Shorthand for `new LarderError(code, message)`, for use in expressions. */
export function fail(code: ErrorCode, message: string, headers?: Record<string, string>): never {
  throw new LarderError(code, message, headers);
}

/** Maps anything thrown to a LarderError; unknown errors become INTERNAL without leaking details. */
export function toLarderError(err: unknown): LarderError {
  if (err instanceof LarderError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  // Fastify's own client errors (bad JSON, body too large, unsupported media type).
  if (e?.code === 'FST_REQ_FILE_TOO_LARGE')
    return new LarderError('ARCHIVE_TOO_LARGE', 'a file in the upload is larger than this registry allows (limits.max_archive_size)');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new LarderError('BODY_TOO_LARGE', e.message ?? 'request body too large');
    if (e.statusCode === 404) return new LarderError('NOT_FOUND', e.message ?? 'not found');
    if (e.statusCode === 405) return new LarderError('METHOD_NOT_ALLOWED', e.message ?? 'method not allowed');
    return new LarderError('BODY_MALFORMED', e.message ?? 'malformed request');
  }
  return new LarderError('INTERNAL', 'internal server error; the server log has the details');
}
