import { fail } from '../../core/errors.js';
import { isVersionReq, validateVersion } from './semver.js';
import { validateCrateName } from './names.js';

/** A dependency as `cargo publish` sends it (`NewCrateDependency`). */
export interface NewCrateDependency {
  optional: boolean;
  default_features: boolean;
  /** The real package name, even when renamed. */
  name: string;
  features: string[];
  version_req: string;
  target: string | null;
  kind: 'normal' | 'dev' | 'build';
  registry?: string | null;
  /** The alias used in the dependant's Cargo.toml when the dependency is renamed. */
  explicit_name_in_toml?: string | null;
  artifact?: string[] | null;
  bindep_target?: string | null;
  lib?: boolean | null;
  public?: boolean | null;
}

/** The publish metadata JSON (`NewCrate`) that precedes the .crate in the publish body. */
export interface NewCrate {
  name: string;
  vers: string;
  deps: NewCrateDependency[];
  features: Record<string, string[]>;
  authors: string[];
  description: string | null;
  documentation: string | null;
  homepage: string | null;
  readme: string | null;
  readme_file: string | null;
  keywords: string[];
  categories: string[];
  license: string | null;
  license_file: string | null;
  repository: string | null;
  badges: Record<string, unknown>;
  links: string | null;
  rust_version: string | null;
}

const KINDS = new Set(['normal', 'dev', 'build']);
const FEATURE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_+.-]*$/;
const RUST_VERSION = /^\d+(\.\d+){0,2}$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(obj: Json, key: string, where: string): string | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') fail('METADATA_INVALID', `${where}${key} must be a string or null, got ${JSON.stringify(v)}`);
  return v;
}

function stringList(obj: Json, key: string, where: string): string[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail('METADATA_INVALID', `${where}${key} must be a list of strings`);
  return v as string[];
}

function optBool(obj: Json, key: string, where: string, dflt: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail('METADATA_INVALID', `${where}${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses and validates the publish metadata; missing optional fields become null, unknown ones are ignored. */
export function parseNewCrate(json: Buffer): NewCrate {
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString('utf8'));
  } catch (err) {
    fail('METADATA_INVALID', `the publish metadata is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) fail('METADATA_INVALID', 'the publish metadata must be a JSON object');
  validateCrateName(raw.name);
  validateVersion(raw.vers);
  if (!Array.isArray(raw.deps)) fail('METADATA_INVALID', 'the publish metadata has no "deps" list');
  const deps = raw.deps.map((d, i) => parseDependency(d, i));
  const features = parseFeatures(raw.features);
  const rustVersion = optString(raw, 'rust_version', '');
  if (rustVersion !== null && !RUST_VERSION.test(rustVersion)) {
    fail('METADATA_INVALID', `rust_version "${rustVersion}" is not a Rust version like 1.70 or 1.70.0`);
  }
  const links = optString(raw, 'links', '');
  if (links !== null && links.trim() === '') fail('METADATA_INVALID', 'links must not be empty');
  return {
    name: raw.name,
    vers: raw.vers,
    deps,
    features,
    authors: stringList(raw, 'authors', ''),
    description: optString(raw, 'description', ''),
    documentation: optString(raw, 'documentation', ''),
    homepage: optString(raw, 'homepage', ''),
    readme: optString(raw, 'readme', ''),
    readme_file: optString(raw, 'readme_file', ''),
    keywords: stringList(raw, 'keywords', ''),
    categories: stringList(raw, 'categories', ''),
    license: optString(raw, 'license', ''),
    license_file: optString(raw, 'license_file', ''),
    repository: optString(raw, 'repository', ''),
    badges: isObject(raw.badges) ? raw.badges : {},
    links,
    rust_version: rustVersion,
  };
}

/** The publish metadata kept beside a version (cargo_versions.metadata): what the index line does not carry. */
export function storedMetadata(meta: NewCrate): string {
  const { deps: _deps, features: _features, ...rest } = meta;
  return JSON.stringify(rest);
}

function parseDependency(d: unknown, i: number): NewCrateDependency {
  if (!isObject(d)) fail('DEPENDENCY_INVALID', `deps[${i}] must be an object`);
  const where = `dependency "${typeof d.name === 'string' ? d.name : i}": `;
  if (typeof d.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(d.name)) {
    fail('DEPENDENCY_INVALID', `${where}name ${JSON.stringify(d.name)} is not a crate name`);
  }
  if (!isVersionReq(d.version_req)) {
    fail(
      'DEPENDENCY_INVALID',
      `${where}version requirement ${JSON.stringify(d.version_req)} does not parse; write it like "1.2", "^0.6", ">=1, <2" or "=1.0.3"`,
    );
  }
  const kind = d.kind ?? 'normal';
  if (typeof kind !== 'string' || !KINDS.has(kind))
    fail('DEPENDENCY_INVALID', `${where}kind must be "normal", "dev" or "build", got ${JSON.stringify(d.kind)}`);
  const alias = optString(d, 'explicit_name_in_toml', where);
  if (alias !== null && !/^[A-Za-z0-9_-]{1,64}$/.test(alias))
    fail('DEPENDENCY_INVALID', `${where}renamed to "${alias}", which is not a valid name`);
  const registry = optString(d, 'registry', where);
  if (registry !== null && !/^(sparse\+)?(https?|file|ssh|git):\/\/\S+$/.test(registry)) {
    fail('DEPENDENCY_INVALID', `${where}registry ${JSON.stringify(registry)} is not an index URL`);
  }
  const dep: NewCrateDependency = {
    optional: optBool(d, 'optional', where, false),
    default_features: optBool(d, 'default_features', where, true),
    name: d.name,
    features: stringList(d, 'features', where),
    version_req: d.version_req,
    target: optString(d, 'target', where),
    kind: kind as NewCrateDependency['kind'],
    registry,
    explicit_name_in_toml: alias,
  };
  // Unstable fields: kept when present so the index line carries them through.
  if (Array.isArray(d.artifact)) dep.artifact = stringList(d, 'artifact', where);
  if (typeof d.bindep_target === 'string') dep.bindep_target = d.bindep_target;
  if (typeof d.lib === 'boolean') dep.lib = d.lib;
  if (typeof d.public === 'boolean') dep.public = d.public;
  return dep;
}

function parseFeatures(v: unknown): Record<string, string[]> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail('METADATA_INVALID', 'features must be an object mapping feature names to lists');
  // No prototype: `__proto__` is a valid feature name and must stay an own key.
  const out: Record<string, string[]> = Object.create(null);
  for (const [name, list] of Object.entries(v)) {
    if (!FEATURE_NAME.test(name)) fail('METADATA_INVALID', `invalid feature name "${name}": use letters, digits, '_', '-', '+' and '.'`);
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) fail('METADATA_INVALID', `feature "${name}" must list strings`);
    out[name] = list as string[];
  }
  return out;
}
