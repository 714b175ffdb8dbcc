import { fail } from '../../core/errors.js';
import { compareBazelVersions, isBazelVersion } from './version.js';

export interface Maintainer {
  email?: string;
  name?: string;
  github?: string;
  github_user_id?: number;
  do_not_notify?: boolean;
}

/** `modules/{m}/metadata.json` in the BCR's schema (the one registry file that changes). */
export interface BazelMetadata {
  homepage: string;
  maintainers: Maintainer[];
  repository: string[];
  versions: string[];
  yanked_versions: Record<string, string>;
  deprecated?: string;
  [key: string]: unknown;
}

/** Reads a stored metadata.json (imported files have every quirk, so only the shape Bazel and Renovate need is checked). */
export function parseMetadata(bytes: Buffer, module: string): BazelMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail('METADATA_INVALID', `modules/${module}/metadata.json is not valid JSON`);
  }
  const m = raw as Partial<BazelMetadata>;
  if (typeof m !== 'object' || m === null || !Array.isArray(m.versions))
    fail('METADATA_INVALID', `modules/${module}/metadata.json has no versions list`);
  return { homepage: '', maintainers: [], repository: [], yanked_versions: {}, ...m } as BazelMetadata;
}

/** Keys sorted at every level, as Python's `json.dumps(sort_keys=True)` orders them. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** BCR tooling's serialisation: `json.dumps(indent=4, sort_keys=True)` (ASCII-escaped) plus a newline. */
export function serializeMetadata(m: BazelMetadata): Buffer {
  const text = JSON.stringify(sortKeys(m), null, 4).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return Buffer.from(`${text}\n`);
}

/** Versions in Bazel's order; entries that do not parse (imported quirks) keep their place at the end. */
function sortVersions(versions: string[]): string[] {
  const valid = versions.filter(isBazelVersion);
  const rest = versions.filter((v) => !valid.includes(v));
  return [...valid.sort(compareBazelVersions), ...rest];
}

/** The metadata after publishing `version`. */
export function withVersion(m: BazelMetadata, version: string): BazelMetadata {
  return { ...m, versions: sortVersions([...new Set([...m.versions, version])]) };
}

/**
 * The metadata after a yank (reason) or unyank (null). The BCR's rule: the latest version may
 * be yanked only when the module is deprecated, or users without --allow_yanked_versions could
 * not build at all.
 */
export function withYank(m: BazelMetadata, module: string, version: string, reason: string | null): BazelMetadata {
  if (!m.versions.includes(version)) fail('VERSION_NOT_FOUND', `${module} has no version ${version}`);
  const yanked = { ...m.yanked_versions };
  if (reason === null) {
    delete yanked[version];
    return { ...m, yanked_versions: yanked };
  }
  if (reason.trim() === '') fail('METADATA_INVALID', 'a yank needs a reason (what is wrong, and which version to use instead)');
  // Yanked already for this reason: a repeat, which changes nothing even if the version has become the latest since.
  if (yanked[version] === reason) return m;
  const latest = sortVersions(m.versions).filter(isBazelVersion).at(-1);
  if (version === latest && !m.deprecated) {
    fail(
      'METADATA_INVALID',
      `${module}@${version} is the latest version: publish a fixed version first, or deprecate the module (set "deprecated") to yank it`,
    );
  }
  yanked[version] = reason;
  return { ...m, yanked_versions: yanked };
}
