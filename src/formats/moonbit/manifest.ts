/**
 * A module's manifest as a publish brings it (protocols/moonbit.md §8.2): `moon.mod.json`, or the
 * newer `moon.mod` in `key = value` form. Either becomes one JSON object with its keys as written
 * (kebab-case, in order): the index line is that object plus `checksum` (§8.3).
 */
import semver from 'semver';
import { fail } from '../../core/errors.js';
import { canonicalVersion } from './index-line.js';
import { checkPublishableName, majorSuffix, type ModuleName } from './names.js';

/** A manifest as uploaded: every key kept, in the order written. */
export type Manifest = Record<string, unknown>;

/** A registry dependency (a version string or `{version}`), resolved against this registry. */
export interface RegistryDep {
  module: string;
  version: string;
}

/** What a publish needs from a manifest, checked. */
export interface CheckedManifest {
  manifest: Manifest;
  module: ModuleName;
  version: string;
  registryDeps: RegistryDep[];
  description: string | null;
}

/** Parses `moon.mod.json`: one JSON object (moon reads it leniently; a publish asks for plain JSON). */
export function parseModJson(bytes: Buffer): Manifest {
  let v: unknown;
  try {
    v = JSON.parse(decodeUtf8(bytes, 'moon.mod.json'));
  } catch (err) {
    if ((err as { code?: string }).code) throw err;
    fail(
      'METADATA_INVALID',
      `moon.mod.json is not valid JSON (${(err as Error).message}); write plain JSON without comments or trailing commas`,
    );
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail('METADATA_INVALID', 'moon.mod.json must be a JSON object ({"name": …})');
  return v as Manifest;
}

const MOD_KEY = /^(?:[A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*")$/;

/**
 * Parses `moon.mod`: statements `key = <JSON value>`, one per line, a value (object, array) may
 * continue over further lines until it is complete; blank lines and lines starting with `//` or `#`
 * are comments. Keys are bare words (`preferred-target`) or JSON strings. Nothing else is documented
 * (§8.2), so anything else is refused with the line it is on.
 */
export function parseModFile(bytes: Buffer): Manifest {
  const lines = decodeUtf8(bytes, 'moon.mod').split(/\r?\n/);
  const out: Manifest = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('//') || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const rawKey = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!MOD_KEY.test(rawKey))
      fail(
        'METADATA_INVALID',
        `moon.mod line ${i + 1}: expected key = value (a bare key like preferred-target or a quoted one, then "=" and a JSON value); write the module as moon.mod.json if it uses another syntax`,
      );
    const key = rawKey.startsWith('"') ? (JSON.parse(rawKey) as string) : rawKey;
    if (Object.hasOwn(out, key)) fail('METADATA_INVALID', `moon.mod line ${i + 1}: "${key}" is set twice; keep one`);
    let text = line.slice(eq + 1).trim();
    const start = i;
    for (;;) {
      const parsed = tryJson(text);
      if (parsed.ok) {
        // defineProperty: a key named __proto__ is data, not the object's prototype.
        Object.defineProperty(out, key, { value: parsed.value, enumerable: true, writable: true, configurable: true });
        break;
      }
      // An object or array may span lines; give up at the end of the file.
      if (i + 1 >= lines.length || !/^[[{]/.test(text))
        fail(
          'METADATA_INVALID',
          `moon.mod line ${start + 1}: the value of "${key}" is not a JSON value (strings in double quotes, objects, arrays, numbers, true, false, null)`,
        );
      text += `\n${lines[++i]}`;
    }
  }
  return out;
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    fail('METADATA_INVALID', `${what} is not UTF-8 text`);
  }
}

/** Refuses (VERSION_INVALID) a version that is not written exactly as canonical SemVer 2.0. */
function checkVersion(v: unknown, what: string): string {
  if (typeof v !== 'string') fail('VERSION_INVALID', `${what} must be a SemVer version string like "0.1.0"`);
  const canonical = canonicalVersion(v);
  if (canonical === null)
    fail('VERSION_INVALID', `${what} ${JSON.stringify(v)} is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, like "0.1.0")`);
  if (canonical !== v) fail('VERSION_INVALID', `${what} ${JSON.stringify(v)} is not in canonical form; write "${canonical}"`);
  return v;
}

const DEP_FORMS = 'a version string ("0.2.0"), {"version": "0.2.0"}, or {"git": "https://…", "branch"?: "…", "version"?: "…"}';

/** Checks one `deps` value (§4.2); returns the registry version it asks for, or null for a git dependency. */
function checkDep(name: string, spec: unknown): string | null {
  const what = `deps["${name}"]`;
  if (typeof spec === 'string') return checkVersion(spec, what);
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) fail('DEPENDENCY_INVALID', `${what} must be ${DEP_FORMS}`);
  const o = spec as Record<string, unknown>;
  const keys = Object.keys(o);
  const only = (allowed: string[]) => {
    const extra = keys.filter((k) => !allowed.includes(k));
    if (extra.length)
      fail('DEPENDENCY_INVALID', `${what} has unknown keys ${extra.map((k) => `"${k}"`).join(', ')}; moon accepts ${DEP_FORMS}`);
  };
  if ('path' in o) {
    only(['path', 'version']);
    fail(
      'DEPENDENCY_INVALID',
      `${what} is a path dependency; a published module cannot depend on local files: publish ${name} and depend on its version`,
    );
  }
  if ('git' in o) {
    only(['git', 'branch', 'version']);
    if (typeof o.git !== 'string' || o.git === '') fail('DEPENDENCY_INVALID', `${what}.git must be the repository URL`);
    if (o.branch !== undefined && typeof o.branch !== 'string') fail('DEPENDENCY_INVALID', `${what}.branch must be a string`);
    if (o.version !== undefined) checkVersion(o.version, `${what}.version`);
    return null;
  }
  only(['version']);
  if (o.version === undefined) fail('DEPENDENCY_INVALID', `${what} names no version; moon accepts ${DEP_FORMS}`);
  return checkVersion(o.version, `${what}.version`);
}

/**
 * Checks a manifest for publishing: `name` a publishable `<user>/<module>` (with the `/vN` rule of
 * §14.6), `version` canonical SemVer, `deps` in a form moon accepts. Every refusal says what to fix.
 */
export function checkManifest(manifest: Manifest, file: string): CheckedManifest {
  if (typeof manifest.name !== 'string' || manifest.name === '')
    fail('METADATA_INVALID', `${file} has no "name"; set it to "<user>/<module>"`);
  const module = checkPublishableName(manifest.name);
  if (manifest.version === undefined || manifest.version === null)
    fail('VERSION_INVALID', `${file} has no "version"; a published module needs one, like "0.1.0"`);
  const version = checkVersion(manifest.version, `${file} "version"`);
  const suffix = majorSuffix(module.full);
  if (suffix !== null) {
    if (suffix < 2)
      fail('NAME_INVALID', `module name ${module.full} ends in /v${suffix}; only /v2 and above are major-version suffixes: drop it`);
    const major = semver.major(version);
    if (major !== suffix)
      fail(
        'VERSION_INVALID',
        `${module.full} is major version ${suffix} (its /v${suffix} suffix), but version ${version} has major ${major}`,
      );
  }
  const registryDeps: RegistryDep[] = [];
  const deps = manifest.deps;
  if (deps !== undefined && deps !== null) {
    if (typeof deps !== 'object' || Array.isArray(deps))
      fail('DEPENDENCY_INVALID', `${file} "deps" must be an object of module name → ${DEP_FORMS}`);
    for (const [name, spec] of Object.entries(deps as Record<string, unknown>)) {
      const v = checkDep(name, spec);
      if (v === null) continue;
      if (name !== 'moonbitlang/core') checkPublishableName(name);
      registryDeps.push({ module: name, version: v });
    }
  }
  const description = typeof manifest.description === 'string' ? manifest.description : null;
  return { manifest, module, version, registryDeps, description };
}

/** The index line of a published version: the manifest as uploaded plus `checksum`, one JSON line (§8.3). */
export function indexLineOf(manifest: Manifest, checksum: string): Buffer {
  // An uploaded `checksum` key cannot stand: the index's checksum is the zip's sha256.
  const { checksum: _ignored, ...rest } = manifest;
  return Buffer.from(JSON.stringify({ ...rest, checksum }));
}
