/**
 * Whether an If-None-Match header matches a strong ETag: exact tags, lists and `*`; a weak
 * `W/` prefix is ignored, as RFC 9110's weak comparison for If-None-Match allows.
 */
export function etagMatches(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (typeof ifNoneMatch !== 'string') return false;
  // What caches and cargo send back: the one tag, as given.
  if (ifNoneMatch === etag) return true;
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Conditional GET, written once: If-None-Match against the ETag; If-Modified-Since only when no If-None-Match came. */
export function notModified(
  headers: { 'if-none-match'?: string | string[]; 'if-modified-since'?: string },
  etag: string,
  updatedAt: number,
): boolean {
  if (headers['if-none-match'] !== undefined) return etagMatches(headers['if-none-match'], etag);
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && Math.floor(updatedAt / 1000) * 1000 <= since;
}
