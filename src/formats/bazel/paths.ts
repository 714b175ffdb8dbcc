/** What a path inside a Bazel index registry is, as far as serving it is concerned. */
export type RegistryFile =
  | { kind: 'registry-json' }
  | { kind: 'metadata'; module: string }
  | { kind: 'version-file'; module: string; version: string; name: string };

// Loose on purpose: a mirror of the BCR must serve what the BCR has, `+` in versions included.
const SEGMENT = /^[A-Za-z0-9._+-]+$/;

/**
 * Classifies a registry-relative path (`modules/m/v/MODULE.bazel`), or null for anything that
 * is not a registry file: traversal, empty segments, unknown top-level names.
 */
export function classifyRegistryPath(path: string): RegistryFile | null {
  if (path === 'bazel_registry.json') return { kind: 'registry-json' };
  const parts = path.split('/');
  if (parts[0] !== 'modules' || parts.length < 3) return null;
  if (parts.some((p) => p === '' || p === '.' || p === '..' || !SEGMENT.test(p))) return null;
  const [, module, second, ...rest] = parts;
  if (parts.length === 3) return second === 'metadata.json' ? { kind: 'metadata', module } : null;
  return { kind: 'version-file', module, version: second, name: rest.join('/') };
}

/** Content types per file; Bazel ignores them, browsers and curl users do not. */
export function contentTypeOf(path: string): string {
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.yml') || path.endsWith('.yaml')) return 'text/yaml; charset=utf-8';
  return 'text/plain; charset=utf-8';
}

/** Everything but metadata.json is immutable once served (lockfiles pin its hash). */
export function cacheControlOf(file: RegistryFile): string {
  return file.kind === 'metadata' ? 'no-cache' : 'public, max-age=31536000, immutable';
}
