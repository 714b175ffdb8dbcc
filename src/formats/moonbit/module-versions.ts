/**
 * The versions of one module as moon reads its index file, with their yank status: shared by moon's API
 * (catalogue.ts), search entries (search.ts) and the package page (web.ts).
 */
// The one function: the whole package (ranges and all) is more to load at every start (cold start, issue 14).
import semverCompare from 'semver/functions/compare.js';
import { canonicalVersion, parseIndexLines, type IndexLine } from './index-line.js';
import { parseModuleName } from './names.js';

/** One version of a module: its index line (the last naming it, as moon reads it) and its yank status. */
export interface CatalogueVersion {
  version: string;
  line: IndexLine;
  yanked: boolean;
  yankedReason: string | null;
}

/** A module as moon's API describes it. */
export interface CatalogueModule {
  name: string;
  user: string;
  /** Ascending SemVer order; versions that are not SemVer are left out (moon cannot load them either). */
  versions: CatalogueVersion[];
  /** The highest SemVer, prereleases included when highest (as moon picks "latest"). */
  latest: CatalogueVersion;
  description: string;
  keywords: string[];
}

/** Reads `yanked.json` (`{"yankedPackages": [{name, version, reason}]}`); a file that does not parse yanks nothing. */
export function parseYanked(body: Uint8Array | undefined): Map<string, string | null> {
  const out = new Map<string, string | null>();
  if (!body) return out;
  try {
    const doc = JSON.parse(Buffer.from(body).toString('utf8')) as { yankedPackages?: unknown };
    for (const y of Array.isArray(doc.yankedPackages) ? doc.yankedPackages : []) {
      const { name, version, reason } = (y ?? {}) as Record<string, unknown>;
      if (typeof name === 'string' && typeof version === 'string')
        out.set(`${name}@${version}`, typeof reason === 'string' && reason !== '' ? reason : null);
    }
  } catch {
    // Only Larder reads it (moon's API, the web UI); an unreadable file must not take them down.
  }
  return out;
}

/**
 * One module as moon reads its index file: lines that do not parse or whose version is not canonical SemVer
 * left out, the last line naming a version winning (moon's checksum lookup scans from the end), yank status
 * from `yanked` (keys `<module>@<version>`, see parseYanked). Null when no version is left.
 */
export function readModule(name: string, body: Uint8Array, yanked: ReadonlyMap<string, string | null>): CatalogueModule | null {
  const parsed = parseModuleName(name);
  if (!parsed) return null;
  const byVersion = new Map<string, IndexLine>();
  for (const line of parseIndexLines(body)) if (canonicalVersion(line.version) === line.version) byVersion.set(line.version, line);
  if (byVersion.size === 0) return null;
  const versions = [...byVersion.values()]
    .sort((a, b) => semverCompare(a.version, b.version))
    .map((line) => {
      const key = `${name}@${line.version}`;
      return { version: line.version, line, yanked: yanked.has(key), yankedReason: yanked.get(key) ?? null };
    });
  const latest = versions[versions.length - 1]!;
  return {
    name,
    user: parsed.user,
    versions,
    latest,
    description: typeof latest.line.description === 'string' ? latest.line.description : '',
    keywords: keywordsOf(latest.line),
  };
}

/** The string keywords of an index line (moon.mod.json `keywords`), anything else left out. */
export function keywordsOf(line: IndexLine): string[] {
  return Array.isArray(line.keywords) ? line.keywords.filter((k): k is string => typeof k === 'string') : [];
}

/** The newest version a client should pick: the highest SemVer that is not yanked (null when every version is). */
export function latestInstallable(m: CatalogueModule): CatalogueVersion | null {
  for (let i = m.versions.length - 1; i >= 0; i--) if (!m.versions[i]!.yanked) return m.versions[i]!;
  return null;
}
