/**
 * Retried registrations (issue 13): a load balancer may send a registration again after its commit
 * succeeded but its answer was lost, or while the first attempt is still committing on another node.
 * The retry is answered as the success it was when the registry already holds exactly what it would
 * write; anything else stays `version_exists`. Compared against the stored registry files, never by
 * writing again.
 */
import { parse as parseToml } from 'smol-toml';
import { loadCompressed } from './compress.js';
import { trustedRegistriesOf } from './registry-toml.js';
import { compareVersions } from './versions.js';

/** The range files a registration adds one version's data to. */
export const RANGE_FILES = ['Deps.toml', 'Compat.toml', 'WeakDeps.toml', 'WeakCompat.toml'] as const;
export type RangeFile = (typeof RANGE_FILES)[number];

/** What one registration writes for its version, as register.ts computes it from Project.toml. */
export interface VersionWrite {
  version: string;
  /** The package tree's git tree hash: what Versions.toml records and Pkg verifies the tarball against. */
  treeHash: string;
  /** The version's entries in each range file (empty when the file gets none). */
  ranges: Record<RangeFile, Record<string, unknown>>;
  /** Package.toml's `repo`, which only the package's first registration writes. */
  repoUrl: string;
  /** `?trusted_registries=`, when the request set it (a later registration rewrites Package.toml then). */
  trustedRegistries?: string[];
}

type Table = Record<string, Record<string, unknown>>;

function table(files: Map<string, Buffer>, rel: string): Table {
  const raw = files.get(rel);
  return raw ? (parseToml(raw.toString('utf8')) as Table) : {};
}

/** JSON with sorted keys, so entries compare by value whatever order the TOML had them in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/**
 * Whether the registry files of a package (at `path`) already hold `write`: the same Versions.toml key
 * with the same tree hash — the tarball itself is Larder's re-encoding of that tree, so the tree hash,
 * not the sha256 of a gzip stream, is what "the same artifact" means — the same entries for the version
 * in Deps/Compat/WeakDeps/WeakCompat.toml, and the Package.toml fields the registration would set.
 * A yank made since is not part of the comparison (Versions.toml's `yanked` is left as it is).
 */
export function holdsRegistration(files: Map<string, Buffer>, path: string, write: VersionWrite): boolean {
  const versions = table(files, `${path}/Versions.toml`) as Record<string, { 'git-tree-sha1'?: unknown }>;
  if (versions[write.version]?.['git-tree-sha1'] !== write.treeHash) return false;
  const pool = Object.keys(versions);
  for (const file of RANGE_FILES) {
    const stored = loadCompressed(table(files, `${path}/${file}`), pool).get(write.version) ?? {};
    if (canonical(stored) !== canonical(write.ranges[file])) return false;
  }
  const pkg = table(files, `${path}/Package.toml`) as Record<string, unknown>;
  if (write.trustedRegistries !== undefined && trustedRegistriesOf(pkg).join() !== write.trustedRegistries.join()) return false;
  // Registrations below every registered version are refused, so the lowest version is the one that created Package.toml.
  const first = pool.every((v) => v === write.version || compareVersions(v, write.version) > 0);
  return !first || pkg.repo === write.repoUrl;
}
