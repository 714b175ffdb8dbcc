/** What Cargo gives the shared search service (registry/search) beyond the crate row. */

/** The keywords of a version's stored publish metadata (JSON), tolerating anything malformed. */
export function keywordsOf(metadata: string | undefined): string[] {
  try {
    const k = (JSON.parse(metadata ?? '{}') as { keywords?: unknown }).keywords;
    return Array.isArray(k) ? k.filter((w): w is string => typeof w === 'string') : [];
  } catch {
    return [];
  }
}
