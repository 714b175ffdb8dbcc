import { fail } from '../../core/errors.js';
import type { NewCrate, NewCrateDependency } from './new-crate.js';
import { isVersionReq, validateVersion } from './semver.js';

/** A dependency in an index line (`RegistryDependency`), keys in the order crates.io writes them. */
export interface IndexDependency {
  name: string;
  req: string;
  features: string[];
  optional: boolean;
  default_features: boolean;
  target: string | null;
  kind: 'normal' | 'dev' | 'build';
  registry: string | null;
  package: string | null;
  public?: boolean;
  artifact?: string[];
  bindep_target?: string;
  lib?: boolean;
}

/** One version of a crate in its index file (`IndexPackage`). */
export interface IndexLine {
  name: string;
  vers: string;
  deps: IndexDependency[];
  cksum: string;
  features: Record<string, string[]>;
  yanked: boolean;
  links: string | null;
  v?: number;
  features2?: Record<string, string[]>;
  rust_version: string | null;
  pubtime: string;
}

/** Cargo parses `pubtime` strictly: exactly `YYYY-MM-DDTHH:MM:SSZ`, or it drops the version silently. */
export function formatPubtime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const PUBTIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$/;
const SHA256 = /^[0-9a-f]{64}$/;
const RUST_VERSION = /^\d+(\.\d+){0,2}$/;
/** The regex alone lets 2025-02-30 through; Cargo's parser does not. */
const isPubtime = (v: string): boolean => PUBTIME.test(v) && new Date(Date.parse(v)).toISOString() === `${v.slice(0, 19)}.000Z`;
const isSemver = (v: unknown): boolean => {
  try {
    validateVersion(v);
    return true;
  } catch {
    return false;
  }
};

/**
 * Builds the index line for a publish. `ownIndexUrls` are this registry's own index URLs:
 * a dependency naming one of them is a same-registry dependency, which the index writes as null.
 */
export function indexLineFromNewCrate(meta: NewCrate, cksum: string, pubtimeMs: number, ownIndexUrls: string[]): IndexLine {
  return {
    name: meta.name,
    vers: meta.vers,
    deps: meta.deps.map((d) => indexDependency(d, ownIndexUrls)),
    cksum,
    // Everything stays in `features`: the features2 split only serves Cargo < 1.19 on crates.io.
    features: meta.features,
    yanked: false,
    links: meta.links,
    rust_version: meta.rust_version,
    pubtime: formatPubtime(pubtimeMs),
  };
}

function indexDependency(d: NewCrateDependency, ownIndexUrls: string[]): IndexDependency {
  const renamed = d.explicit_name_in_toml != null && d.explicit_name_in_toml !== '';
  const registry = d.registry && !ownIndexUrls.includes(d.registry) ? d.registry : null;
  const dep: IndexDependency = {
    name: renamed ? d.explicit_name_in_toml! : d.name,
    req: d.version_req,
    features: d.features,
    optional: d.optional,
    default_features: d.default_features,
    target: d.target,
    kind: d.kind,
    registry,
    package: renamed ? d.name : null,
  };
  if (d.public != null) dep.public = d.public;
  if (d.artifact != null) dep.artifact = d.artifact;
  if (d.bindep_target != null) dep.bindep_target = d.bindep_target;
  if (d.lib != null) dep.lib = d.lib;
  return dep;
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isFeatureMap = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isStringList);
const isNullableString = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';

/**
 * Checks a line by the rules Cargo parses it with. Cargo silently drops a line it cannot parse,
 * so a line that fails here must never be stored.
 */
export function validateIndexLine(line: unknown): asserts line is IndexLine {
  const bad = (what: string): never => fail('METADATA_INVALID', `the index line would be unreadable by Cargo: ${what}`);
  if (typeof line !== 'object' || line === null) return bad('not an object');
  const l = line as Record<string, unknown>;
  if (typeof l.name !== 'string' || l.name === '') bad('name');
  if (typeof l.vers !== 'string' || !isSemver(l.vers)) bad(`vers ${JSON.stringify(l.vers)} is not SemVer`);
  if (typeof l.cksum !== 'string' || !SHA256.test(l.cksum)) bad('cksum is not a sha256 hex digest');
  if (!Array.isArray(l.deps)) bad('deps is missing');
  if (!isFeatureMap(l.features)) bad('features must map names to lists of strings');
  if (l.features2 !== undefined && !isFeatureMap(l.features2)) bad('features2 must map names to lists of strings');
  if (l.yanked !== undefined && typeof l.yanked !== 'boolean') bad('yanked must be a boolean');
  if (!isNullableString(l.links)) bad('links');
  if (!isNullableString(l.rust_version) || (typeof l.rust_version === 'string' && !RUST_VERSION.test(l.rust_version))) bad('rust_version');
  if (l.v !== undefined && !(l.v === 1 || l.v === 2)) bad(`v ${JSON.stringify(l.v)} is higher than Cargo understands`);
  if (l.pubtime !== undefined && (typeof l.pubtime !== 'string' || !isPubtime(l.pubtime))) {
    bad(`pubtime ${JSON.stringify(l.pubtime)} is not YYYY-MM-DDTHH:MM:SSZ`);
  }
  for (const d of l.deps as unknown[]) {
    if (typeof d !== 'object' || d === null) bad('a dependency is not an object');
    const dep = d as Record<string, unknown>;
    const who = `dependency ${JSON.stringify(dep.name)}`;
    if (typeof dep.name !== 'string' || dep.name === '') bad('a dependency has no name');
    if (!isVersionReq(dep.req)) bad(`${who} has an unparsable req ${JSON.stringify(dep.req)}`);
    if (dep.features !== undefined && !isStringList(dep.features)) bad(`${who} features`);
    if (dep.optional !== undefined && typeof dep.optional !== 'boolean') bad(`${who} optional`);
    if (dep.default_features !== undefined && typeof dep.default_features !== 'boolean') bad(`${who} default_features`);
    if (!isNullableString(dep.target)) bad(`${who} target`);
    if (dep.kind != null && dep.kind !== 'normal' && dep.kind !== 'dev' && dep.kind !== 'build')
      bad(`${who} kind ${JSON.stringify(dep.kind)}`);
    if (!isNullableString(dep.registry)) bad(`${who} registry`);
    if (!isNullableString(dep.package)) bad(`${who} package`);
    if (dep.public !== undefined && typeof dep.public !== 'boolean') bad(`${who} public`);
    if (dep.artifact !== undefined && !isStringList(dep.artifact)) bad(`${who} artifact`);
    if (dep.bindep_target !== undefined && typeof dep.bindep_target !== 'string') bad(`${who} bindep_target`);
    if (dep.lib !== undefined && typeof dep.lib !== 'boolean') bad(`${who} lib`);
  }
}

/** Serialises a line as stored and served: one line of JSON, keys in a fixed order. */
export function serializeIndexLine(line: IndexLine): string {
  return JSON.stringify(line);
}

/** The same line with its `yanked` flag set; every other byte stays as it was. */
export function withYanked(stored: string, yanked: boolean): string {
  const line = JSON.parse(stored) as IndexLine;
  line.yanked = yanked;
  return JSON.stringify(line);
}
