/**
 * Brioche's names (protocols/brioche.md §2.2, §3.1): cache object keys (content-addressed, four
 * shapes, lower-case 64-hex BLAKE3), project names and tags, and the document paths Larder keeps
 * tags under.
 */

/** A lower-case 64-hex BLAKE3 hash as Brioche writes them. */
export const HASH = /^[0-9a-f]{64}$/;

/** The four kinds of cache object. */
export type CacheKind = 'project-source' | 'artifact' | 'chunk' | 'bake-output';

/** A cache key split into its kind and hash. */
export interface CacheKey {
  kind: CacheKind;
  hash: string;
  key: string;
}

const SHAPES: Array<[CacheKind, RegExp]> = [
  ['project-source', /^projects\/([0-9a-f]{64})\/source\.json$/],
  ['artifact', /^artifacts\/([0-9a-f]{64})\.bar\.zst$/],
  ['chunk', /^chunks\/([0-9a-f]{64})\.zst$/],
  ['bake-output', /^bakes\/([0-9a-f]{64})\/output\.json$/],
];

/** Parses a cache key; null for anything but the four shapes of §3.1 (so no traversal, no other names). */
export function parseCacheKey(key: string): CacheKey | null {
  for (const [kind, re] of SHAPES) {
    const m = re.exec(key);
    if (m) return { kind, hash: m[1]!, key };
  }
  return null;
}

/** The cache key of a project's source.json. */
export function projectSourceKey(projectHash: string): string {
  return `projects/${projectHash}/source.json`;
}

/** The cache key of a chunk. */
export function chunkKey(hash: string): string {
  return `chunks/${hash}.zst`;
}

/** Project names Larder accepts: what brioche-packages use (letters, digits, `_`, `-`, `.`), 1–128 bytes, not `.`/`..`. */
const PROJECT_NAME = /^(?!\.{1,2}$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Tags: `latest` and project versions (`1.7.1`, `2024-01-02`, `v1.0.0-rc.1+b`). */
const TAG = /^(?!\.{1,2}$)[A-Za-z0-9_.+-]{1,128}$/;

/** Whether a project name is one Larder stores tags for. */
export function isProjectName(name: string): boolean {
  return PROJECT_NAME.test(name);
}

/** Whether a tag is one Larder stores. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}

/** The document path of a tag: `tags/<project>/<tag>` (its body is the registry's `{"projectHash": …}` JSON). */
export function tagPath(project: string, tag: string): string {
  return `tags/${project}/${tag}`;
}

/** The project and tag of a tag document path, or null. */
export function parseTagPath(path: string): { project: string; tag: string } | null {
  const m = /^tags\/([^/]+)\/([^/]+)$/.exec(path);
  return m && isProjectName(m[1]!) && isTag(m[2]!) ? { project: m[1]!, tag: m[2]! } : null;
}

/** The body of a tag document, byte for byte what the reference registry answers. */
export function tagBody(projectHash: string): Buffer {
  return Buffer.from(JSON.stringify({ projectHash }));
}
