/**
 * Whether an If-None-Match header matches a strong ETag: exact tags, lists and `*`; a weak
 * `W/` prefix is ignored, as RFC 9110's weak comparison for If-None-Match allows.
 */
export function etagMatches(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (typeof ifNoneMatch !== 'string') return false;
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
