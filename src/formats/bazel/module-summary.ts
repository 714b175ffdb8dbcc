/**
 * What search and the web UI read from a module's metadata.json: versions, yanks, deprecation, homepage,
 * maintainers, repository. Real registries (and upstreams a proxy reads) hold every quirk — fields missing or
 * of the wrong type, versions that do not parse, yanks of unlisted versions — so nothing here throws: what
 * cannot be read is left out.
 */
import type { Maintainer } from './metadata.js';
import { compareBazelVersions, isBazelVersion } from './version.js';

export interface ModuleSummary {
  homepage: string | null;
  maintainers: Maintainer[];
  /** `github:o/r`, `gitlab:o/r` or URL prefixes, as metadata.json lists them. */
  repository: string[];
  /** The listed versions, once each, in the file's order. */
  versions: string[];
  /** version → reason. */
  yanked: Map<string, string>;
  deprecated: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** The parts of `modules/{m}/metadata.json` search and pages use, or null when it is not a JSON object. */
export function readModuleSummary(body: Buffer): ModuleSummary | null {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(json)) return null;
  const yanked = new Map<string, string>();
  if (isObject(json.yanked_versions)) {
    for (const [v, reason] of Object.entries(json.yanked_versions)) yanked.set(v, typeof reason === 'string' ? reason : '');
  }
  return {
    homepage: text(json.homepage),
    maintainers: Array.isArray(json.maintainers) ? (json.maintainers.filter(isObject) as Maintainer[]) : [],
    repository: strings(json.repository),
    versions: [...new Set(strings(json.versions))],
    yanked,
    deprecated: text(json.deprecated),
  };
}

/** Versions newest first in Bazel's order; ones that do not parse (imported quirks) follow, as listed. */
export function newestFirst(versions: readonly string[]): string[] {
  const valid = versions.filter(isBazelVersion);
  const rest = versions.filter((v) => !isBazelVersion(v));
  return [...valid.sort((a, b) => compareBazelVersions(b, a)), ...rest];
}

/**
 * The newest version a user would get: listed, not yanked, and reachable — Bazel drops `+build` before it builds
 * a URL (protocols/bazel.md §1), so a version with build metadata can never be fetched. Null when none is left.
 */
export function latestInstallable(summary: ModuleSummary): string | null {
  return newestFirst(summary.versions).find((v) => isBazelVersion(v) && !v.includes('+') && !summary.yanked.has(v)) ?? null;
}

/** How a maintainer is named on a page: the name, else the GitHub login, else the e-mail address. */
export function maintainerName(m: Maintainer): string | null {
  return text(m.name) ?? (text(m.github) ? `@${m.github}` : null) ?? text(m.email);
}

/** The names of the maintainers that have one. */
export function maintainerNames(summary: ModuleSummary): string[] {
  return summary.maintainers.map(maintainerName).filter((n): n is string => n !== null);
}

/** A web address for a `repository` entry: `github:o/r` → https://github.com/o/r; URL prefixes as they are; null otherwise. */
export function repositoryUrl(entry: string): string | null {
  const forge = /^(github|gitlab):([\w.-]+\/[\w./-]+)$/.exec(entry);
  if (forge) return `https://${forge[1]}.com/${forge[2]}`;
  return /^https?:\/\/\S+$/i.test(entry) ? entry : null;
}

/**
 * A line that says what a module is, since metadata.json has no description: the deprecation first, then where it
 * lives and who maintains it. Search indexes it, so a module is found by its organisation or maintainer too.
 */
export function describeModule(summary: ModuleSummary): string | null {
  const parts: string[] = [];
  if (summary.deprecated) parts.push(`Deprecated: ${summary.deprecated}`);
  const homepage = summary.homepage;
  const where = [
    ...(homepage ? [homepage] : []),
    ...summary.repository.filter((r) => {
      const url = repositoryUrl(r);
      return url === null || homepage === null || url.replace(/\/+$/, '') !== homepage.replace(/\/+$/, '');
    }),
  ];
  if (where.length) parts.push(where.join(', '));
  const names = maintainerNames(summary);
  if (names.length) parts.push(`maintained by ${names.join(', ')}`);
  return parts.length ? parts.join(' · ') : null;
}
