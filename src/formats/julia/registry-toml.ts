/**
 * Byte-exact writers for registry files (julia.md §7.6), reproducing Julia's
 * `TOML.print(…; sorted=true)` and RegistryTools' own Registry.toml / Package.toml layout.
 */
import { fail } from '../../core/errors.js';
import { compareVersions, parseVersion } from './versions.js';

/** Escapes a string as Julia's TOML printer does (`\uXXXX` for other control characters). */
function escape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const named: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '"': '\\"', '\\': '\\\\' };
    if (named[ch]) out += named[ch];
    else if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

const str = (s: string) => `"${escape(s)}"`;

/**
 * The body of a multi-line basic string: backslashes and `"""` escaped, control characters other than
 * newline and tab as `\uXXXX` (TOML forbids them raw: a NUL would make the whole file unreadable).
 */
function multiline(s: string): string {
  return (
    s
      .replace(/\\/g, '\\\\')
      .replace(/"""/g, '""\\"')
      // Control characters are exactly what a TOML string may not hold raw.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  );
}

/** A key, bare when it is only `A-Za-z0-9_-`, otherwise double-quoted. */
export function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : str(k);
}

/** Plain code-point string order (Julia's `isless` on strings). */
export function byCodePoint(a: string, b: string): number {
  const x = [...a],
    y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const isArrayOfTables = (v: unknown): v is Record<string, unknown>[] => Array.isArray(v) && v.length > 0 && v.every(isTable);

function value(v: unknown, where: string): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => value(x, where)).join(', ')}]`;
  if (isTable(v))
    return `{${Object.entries(v)
      .map(([k, x]) => `${tomlKey(k)} = ${value(x, where)}`)
      .join(', ')}}`;
  fail('METADATA_INVALID', `${where}: unsupported TOML value ${String(v)}; use strings, booleans, numbers, arrays or tables`);
}

/** Julia's `TOML.print` table printer (`print_table`): values first, then tables separated by blank lines. */
function printTable(
  t: Record<string, unknown>,
  order: (a: string, b: string) => number,
  path: string[] = [],
  indent = 0,
  firstBlock = true,
): string {
  let out = '';
  const keys = Object.keys(t).sort(order);
  for (const k of keys) {
    const v = t[k];
    if (isTable(v) || isArrayOfTables(v)) continue;
    out += `${' '.repeat(4 * Math.max(0, indent - 1))}${tomlKey(k)} = ${value(v, [...path, k].join('.'))}\n`;
    firstBlock = false;
  }
  for (const k of keys) {
    const v = t[k];
    const ks = [...path, k];
    if (isTable(v)) {
      const header = Object.keys(v).length === 0 || !Object.values(v).every((x) => isTable(x) || isArrayOfTables(x));
      if (header) {
        if (!firstBlock) out += '\n';
        firstBlock = false;
        out += `${' '.repeat(4 * indent)}[${ks.map(tomlKey).join('.')}]\n`;
      }
      out += printTable(v, order, ks, indent + (header ? 1 : 0), header);
    } else if (isArrayOfTables(v)) {
      if (!firstBlock) out += '\n';
      firstBlock = false;
      for (const item of v) {
        out += `${' '.repeat(4 * indent)}[[${ks.map(tomlKey).join('.')}]]\n`;
        out += printTable(item, order, ks, indent + 1);
      }
    }
  }
  return out;
}

/** One Versions.toml entry; `yanked` is written only when true. */
export interface VersionEntry {
  version: string;
  treeSha1: string;
  yanked?: boolean;
}

/** Writes Versions.toml: tables in version order, `git-tree-sha1` then `yanked = true`. */
export function writeVersionsToml(versions: VersionEntry[]): string {
  versions.forEach((e) => parseVersion(e.version));
  const sorted = [...versions].sort((a, b) => compareVersions(a.version, b.version));
  sorted.forEach((e, i) => {
    if (i > 0 && compareVersions(sorted[i - 1].version, e.version) === 0) {
      fail('VERSION_INVALID', `version ${e.version} is listed twice in Versions.toml (as ${sorted[i - 1].version}); keep one entry`);
    }
    if (!/^[0-9a-f]{40}$/.test(e.treeSha1)) {
      fail('METADATA_INVALID', `version ${e.version}: git-tree-sha1 must be 40 lowercase hex digits, got ${JSON.stringify(e.treeSha1)}`);
    }
  });
  return sorted.map((e) => `[${tomlKey(e.version)}]\ngit-tree-sha1 = ${str(e.treeSha1)}\n${e.yanked ? 'yanked = true\n' : ''}`).join('\n');
}

/** Writes Deps/Compat/WeakDeps/WeakCompat.toml from range-keyed tables; an empty table set gives an empty file. */
export function writeRangeTable(table: Record<string, Record<string, unknown>>): string {
  for (const [key, entries] of Object.entries(table)) {
    if (!isTable(entries)) fail('METADATA_INVALID', `registry table [${key}] must be a table of name = value entries`);
    for (const [name, v] of Object.entries(entries)) {
      if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        fail('DEPENDENCY_INVALID', `[${key}] ${name}: value must be a string (UUID or range) or an array of range strings`);
      }
    }
  }
  return printTable(table, byCodePoint);
}

/** Package.toml fields, written in RegistryTools' order name, uuid, repo, subdir. */
export interface PackageToml {
  name: string;
  uuid: string;
  repo: string;
  subdir?: string;
  /**
   * Pkg's `trusted_registries`: the other registries (UUIDs) this package's registry trusts to carry
   * the same (name, uuid) — the dependency-confusion defence of protocols/julia.md §7.2.
   */
  trustedRegistries?: string[];
  /** Other keys a Package.toml already had (`[metadata.deprecated]`, …), kept when it is rewritten. */
  extra?: Record<string, unknown>;
}

/** Writes Package.toml as RegistryTools does (`trusted_registries` and any kept keys after the standard ones). */
export function writePackageToml(p: PackageToml): string {
  let out = `name = ${str(p.name)}\nuuid = ${str(p.uuid)}\nrepo = ${str(p.repo)}\n`;
  if (p.subdir !== undefined) out += `subdir = ${str(p.subdir)}\n`;
  if (p.trustedRegistries?.length) out += `trusted_registries = [${p.trustedRegistries.map(str).join(', ')}]\n`;
  const extra = { ...p.extra };
  for (const k of ['name', 'uuid', 'repo', 'subdir', 'trusted_registries']) delete extra[k];
  if (Object.keys(extra).length) out += `\n${printTable(extra, byCodePoint)}`;
  return out;
}

/** The `trusted_registries` of a parsed Package.toml: Pkg accepts one UUID string or an array of them. */
export function trustedRegistriesOf(pkg: Record<string, unknown>): string[] {
  const v = pkg.trusted_registries;
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Registry.toml contents; `extra` holds any other top-level keys (written sorted). */
export interface RegistryToml {
  name: string;
  uuid: string;
  repo?: string;
  description?: string;
  extra?: Record<string, unknown>;
  packages: Array<{ uuid: string; name: string; path: string }>;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Writes Registry.toml in RegistryTools' layout (§7.1): header, description, extras, sorted `[packages]`. */
export function writeRegistryToml(r: RegistryToml): string {
  let out = `name = ${str(r.name)}\nuuid = ${str(r.uuid)}\n`;
  if (r.repo !== undefined) out += `repo = ${str(r.repo)}\n`;
  if (r.description !== undefined) {
    out += r.description.includes('\n') ? `\ndescription = """\n${multiline(r.description)}"""\n` : `description = ${str(r.description)}\n`;
  }
  for (const k of Object.keys(r.extra ?? {}).sort(byCodePoint)) {
    if (['name', 'uuid', 'repo', 'description', 'packages'].includes(k)) {
      fail('METADATA_INVALID', `Registry.toml extra key ${JSON.stringify(k)} clashes with a standard field; pass it as that field instead`);
    }
    out += printTable({ [k]: r.extra![k] }, byCodePoint);
  }
  out += '\n[packages]\n';
  const seen = new Set<string>();
  for (const p of [...r.packages].sort((a, b) => byCodePoint(a.uuid, b.uuid))) {
    if (!UUID_RE.test(p.uuid))
      fail('METADATA_INVALID', `package ${p.name}: UUID ${JSON.stringify(p.uuid)} must be a lowercase hyphenated UUID`);
    if (seen.has(p.uuid)) fail('METADATA_INVALID', `package UUID ${p.uuid} is listed twice in Registry.toml`);
    seen.add(p.uuid);
    out += `${p.uuid} = { name = ${str(p.name)}, path = ${str(p.path)} }\n`;
  }
  return out;
}
