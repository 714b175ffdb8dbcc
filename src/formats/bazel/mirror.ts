/**
 * Larder's archive mirror for Bazel (protocols/bazel.md §9.2 rule 4): source archives are served at
 * `/{repo}/mirror/{host[:port]}/{path}[?query]`, the layout Bazel builds from a `mirrors` entry or
 * `--module_mirrors` (`{mirror}/{authority}{path?query}`, the scheme dropped). The artifact key of an
 * archive is `mirror/` + that rest, so the key is the same whichever URL of a source.json named it.
 */
import { strongEtag } from '../../core/hash.js';
import type { SourceDoc } from '../../registry/source.js';

/** The path segment under a repo where its archive mirror lives. */
export const MIRROR_SEGMENT = 'mirror';

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** The mirror key of an archive URL (`https://github.com/o/r/a.tar.gz` → `mirror/github.com/o/r/a.tar.gz`), or null for a non-HTTP URL. */
export function mirrorKeyOf(url: string): string | null {
  // Bazel appends the authority and the raw path?query as written; the fragment is never sent.
  if (!/^https?:\/\//i.test(url)) return null;
  const rest = url.replace(SCHEME, '').split('#')[0]!;
  if (rest === '' || rest.startsWith('/')) return null;
  return `${MIRROR_SEGMENT}/${rest}`;
}

/** The mirror key a request URL names (`/{repo}/mirror/github.com/…?q`), read raw so percent-escapes and the query stay as Bazel sent them. */
export function mirrorKeyOfRequest(rawUrl: string, repoName: string): string | null {
  const prefix = `/${repoName}/${MIRROR_SEGMENT}/`;
  if (!rawUrl.startsWith(prefix)) return null;
  const rest = rawUrl.slice(prefix.length);
  return rest === '' ? null : `${MIRROR_SEGMENT}/${rest}`;
}

/** The mirror base URL of a repo, as `mirrors` and `--module_mirrors` take it. */
export function mirrorBaseUrl(registryUrl: string): string {
  return `${registryUrl.replace(/\/+$/, '')}/${MIRROR_SEGMENT}`;
}

/** bazel_registry.json as an object; a blank file means "absent" to Bazel, unreadable JSON gives null. */
export function readRegistryJson(body: Buffer | undefined): Record<string, unknown> | null {
  const text = body?.toString('utf8').trim() ?? '';
  if (text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The string entries of a `mirrors` value. */
export function mirrorsOf(json: Record<string, unknown>): string[] {
  return Array.isArray(json.mirrors) ? json.mirrors.filter((m): m is string => typeof m === 'string') : [];
}

/** bazel_registry.json bytes as BCR tooling writes them (indent 4, trailing newline), `mirrors` first. */
export function registryJsonOf(json: Record<string, unknown>, mirrors: string[]): Buffer {
  const rest = Object.fromEntries(Object.entries(json).filter(([k]) => k !== 'mirrors'));
  return Buffer.from(`${JSON.stringify({ mirrors, ...rest }, null, 4)}\n`);
}

/**
 * The bazel_registry.json a repo whose archives come through Larder serves: the source's copy with
 * `selfMirror` listed first, so Bazel asks Larder's mirror before the archive's own host. A copy that
 * cannot be read is served as it is (Bazel will say what is wrong with it); none at all gets a fresh one.
 */
export function withSelfMirror(doc: SourceDoc | null, selfMirror: string): SourceDoc | null {
  const json = readRegistryJson(doc?.body);
  if (!json) return doc;
  const body = registryJsonOf(json, [selfMirror, ...mirrorsOf(json).filter((m) => m !== selfMirror)]);
  const updatedAt = doc?.updatedAt ?? 0;
  return {
    body,
    etag: strongEtag(body),
    updatedAt,
    lastModified: doc?.lastModified ?? new Date(updatedAt).toUTCString(),
    stale: doc?.stale ?? false,
  };
}
