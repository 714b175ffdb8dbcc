/** What Cargo gives the shared search service (registry/search) beyond the crate row. */
import type { IndexFileDependency } from './index-file.js';

/** The keywords of a version's stored publish metadata (JSON), tolerating anything malformed. */
export function keywordsOf(metadata: string | undefined): string[] {
  try {
    const k = (JSON.parse(metadata ?? '{}') as { keywords?: unknown }).keywords;
    return Array.isArray(k) ? k.filter((w): w is string => typeof w === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * The crates a version depends on, for "depended on by": normal and build dependencies by their real name
 * (a renamed one by its `package`). Dev-dependencies are left out, as crates.io does: a dependant never builds
 * them, so a crate used only in another's tests is not one it depends on.
 */
export function dependencyNames(deps: readonly IndexFileDependency[]): string[] {
  return [...new Set(deps.filter((d) => d.kind !== 'dev').map((d) => d.package ?? d.name))];
}
