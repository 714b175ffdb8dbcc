/**
 * One package as a registry describes it (protocols/julia.md §7): Package.toml, Versions.toml and the range
 * files read per version, for search entries and package pages. Registries come from anywhere — a hosted
 * repo's documents, a registry tarball from an upstream, a tree being imported — so this reads through
 * `RegistryReader` and never fails on what an upstream wrote: a file that does not parse reads as empty.
 */
import { parse as parseToml } from 'smol-toml';
import { UUID } from './ids.js';
import { compareVersions, contains, parseRange, parseVersion, type VersionNumber, type VersionRange } from './versions.js';

/** A registry's identity, its `[packages]`, and its files by registry-relative path. */
export interface RegistryReader {
  uuid: string;
  name: string;
  packages: ReadonlyMap<string, { name: string; path: string }>;
  file(rel: string): Promise<Buffer | null>;
}

export interface JuliaVersion {
  version: string;
  /** The package tree of this version (`git-tree-sha1`), null when the entry has none. */
  treeSha1: string | null;
  yanked: boolean;
}

/** A dependency of one version: Deps.toml (or WeakDeps.toml, `weak`), with its Compat entry as the registry writes it. */
export interface JuliaDependency {
  name: string;
  uuid: string;
  /** The compat range(s) as written (`0.8-0.9`, `0.8, 0.10` for an array); null when any version will do. */
  compat: string | null;
  weak: boolean;
}

type Toml = Record<string, unknown>;
type RangeTable = Record<string, Record<string, unknown>>;

export interface JuliaPackage {
  uuid: string;
  name: string;
  /** The package's directory in the registry (`E/Example`). */
  path: string;
  registry: { uuid: string; name: string };
  /** Package.toml `repo` and `subdir`. */
  repo: string | null;
  subdir: string | null;
  /** `[metadata.deprecated]` (Pkg ≥ 1.13), when present. */
  deprecated: { reason: string | null; alternative: string | null } | null;
  /** Newest first. */
  versions: JuliaVersion[];
  /** The newest version that is not yanked: what `Pkg.add` picks without other constraints. */
  latest: string | null;
  tables: { deps: RangeTable; compat: RangeTable; weakDeps: RangeTable; weakCompat: RangeTable };
}

/** TOML text as a table; anything unreadable reads as empty (a page must render whatever an upstream holds). */
export function tomlOf(bytes: Buffer | null | undefined): Toml {
  if (!bytes) return {};
  try {
    return parseToml(bytes.toString('utf8')) as Toml;
  } catch {
    return {};
  }
}

const isTable = (v: unknown): v is Toml => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function parsedVersion(s: string): VersionNumber | null {
  try {
    return parseVersion(s);
  } catch {
    return null;
  }
}

/** A registry's identity and packages from its Registry.toml; null when it names no registry. */
export function registryIndex(registryToml: Buffer | null): Omit<RegistryReader, 'file'> | null {
  const t = tomlOf(registryToml);
  const name = text(t.name);
  const uuid = text(t.uuid);
  if (!name || !uuid) return null;
  const packages = new Map<string, { name: string; path: string }>();
  for (const [id, p] of Object.entries(isTable(t.packages) ? t.packages : {})) {
    if (isTable(p) && typeof p.name === 'string' && typeof p.path === 'string' && UUID.test(id))
      packages.set(id, { name: p.name, path: p.path });
  }
  return { uuid, name, packages };
}

/** A registry read from a map of its files (an imported tree, the files a registration is writing, a tarball's files). */
export function readerOfFiles(files: ReadonlyMap<string, Buffer>): RegistryReader | null {
  const index = registryIndex(files.get('Registry.toml') ?? null);
  return index && { ...index, file: async (rel) => files.get(rel) ?? null };
}

/** The newest version that is not yanked. */
export function latestOf(versions: readonly JuliaVersion[]): string | null {
  return versions.find((v) => !v.yanked)?.version ?? null;
}

/** The versions of a Versions.toml, newest first; keys that are not versions are left out. */
export function versionsOf(versionsToml: Toml): JuliaVersion[] {
  const out: Array<JuliaVersion & { v: VersionNumber }> = [];
  for (const [version, e] of Object.entries(versionsToml)) {
    const v = parsedVersion(version);
    if (!v || !isTable(e)) continue;
    const tree = e['git-tree-sha1'];
    out.push({ version, v, treeSha1: typeof tree === 'string' ? tree : null, yanked: e.yanked === true });
  }
  return out.sort((a, b) => compareVersions(b.v, a.v)).map(({ version, treeSha1, yanked }) => ({ version, treeSha1, yanked }));
}

const rangeTable = (t: Toml): RangeTable => Object.fromEntries(Object.entries(t).filter((e): e is [string, Toml] => isTable(e[1])));

/** A package of a registry, or null when the registry does not list that UUID. */
export async function readJuliaPackage(reg: RegistryReader, uuid: string): Promise<JuliaPackage | null> {
  const entry = reg.packages.get(uuid);
  if (!entry) return null;
  const at = (file: string) => reg.file(`${entry.path}/${file}`);
  const [pkg, versions, deps, compat, weakDeps, weakCompat] = await Promise.all(
    ['Package.toml', 'Versions.toml', 'Deps.toml', 'Compat.toml', 'WeakDeps.toml', 'WeakCompat.toml'].map(async (f) => tomlOf(await at(f))),
  );
  const meta = isTable(pkg.metadata) ? pkg.metadata : {};
  const deprecated = isTable(meta.deprecated) ? meta.deprecated : null;
  const list = versionsOf(versions);
  return {
    uuid,
    name: entry.name,
    path: entry.path,
    registry: { uuid: reg.uuid, name: reg.name },
    repo: text(pkg.repo),
    subdir: text(pkg.subdir),
    deprecated: deprecated && { reason: text(deprecated.reason), alternative: text(deprecated.alternative) },
    versions: list,
    latest: latestOf(list),
    tables: { deps: rangeTable(deps), compat: rangeTable(compat), weakDeps: rangeTable(weakDeps), weakCompat: rangeTable(weakCompat) },
  };
}

/**
 * The entries of a range file that apply to one version (§9 Load, for one version): every table whose range
 * holds it. Unparsable keys are skipped and the first table wins on overlap, so a damaged file still reads.
 */
export function entriesFor(table: RangeTable, version: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const v = parsedVersion(version);
  if (!v) return out;
  for (const [key, entries] of Object.entries(table)) {
    let r: VersionRange;
    try {
      r = parseRange(key);
    } catch {
      continue;
    }
    if (!contains(r, v)) continue;
    for (const [name, value] of Object.entries(entries)) if (!out.has(name)) out.set(name, value);
  }
  return out;
}

/** A Compat.toml value as people read it: one range, or the ranges of an array joined by commas. */
function compatText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((x) => typeof x === 'string')) return value.join(', ');
  return null;
}

/** The dependencies of one version (Deps.toml, then WeakDeps.toml), by name, each with its compat. */
export function dependenciesOf(pkg: JuliaPackage, version: string): JuliaDependency[] {
  const out: JuliaDependency[] = [];
  for (const weak of [false, true]) {
    const deps = entriesFor(weak ? pkg.tables.weakDeps : pkg.tables.deps, version);
    const compat = entriesFor(weak ? pkg.tables.weakCompat : pkg.tables.compat, version);
    for (const [name, uuid] of [...deps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (typeof uuid !== 'string') continue;
      out.push({ name, uuid, compat: compatText(compat.get(name)), weak });
    }
  }
  return out;
}

/** The `julia` compat of one version (the Julia versions it supports), as written. */
export function juliaCompatOf(pkg: JuliaPackage, version: string): string | null {
  return compatText(entriesFor(pkg.tables.compat, version).get('julia'));
}

/**
 * When several registries of one server hold the same UUID, the one a page and search show: the one whose
 * latest version is newest (what a resolve over all of them would reach), the first listed on a tie.
 */
export function choosePackage(candidates: readonly JuliaPackage[]): JuliaPackage | null {
  let best: JuliaPackage | null = null;
  for (const c of candidates) {
    if (!best || (c.latest !== null && (best.latest === null || compareVersions(c.latest, best.latest) > 0))) best = c;
  }
  return best;
}

/** The package a repo's registries hold under `uuid` (see choosePackage), or null. */
export async function packageAcross(registries: readonly RegistryReader[], uuid: string): Promise<JuliaPackage | null> {
  const found: JuliaPackage[] = [];
  for (const reg of registries) {
    const pkg = await readJuliaPackage(reg, uuid);
    if (pkg) found.push(pkg);
  }
  return choosePackage(found);
}

/** What search records for a package: null when no version is left to install (every one yanked). */
export function searchFieldsOf(pkg: JuliaPackage): {
  package: string;
  name: string;
  description: null;
  keywords: string[];
  latestVersion: string;
  dependencies: string[];
} | null {
  if (pkg.latest === null) return null;
  return {
    package: pkg.uuid,
    name: pkg.name,
    // Registries carry no description or keywords (Package.toml has name, uuid, repo only).
    description: null,
    keywords: [],
    latestVersion: pkg.latest,
    dependencies: dependenciesOf(pkg, pkg.latest)
      .filter((d) => !d.weak)
      .map((d) => d.name),
  };
}
