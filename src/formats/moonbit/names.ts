/**
 * MoonBit module names, index paths and archive keys (protocols/moonbit.md §3.3, §5.1, §8.1, §14.6).
 * A module is `<user>/<name>` where `<name>` may itself contain `/` (`lijunchen/nested/lib1`) and
 * is not ASCII-only (CJK, emoji); its index file is `user/<module>.index`, its archive key
 * `<module>/<version>`.
 */
import { fail } from '../../core/errors.js';

/** A module name split at its first `/`: the user and the (possibly nested) name. */
export interface ModuleName {
  user: string;
  name: string;
  /** `user/name` as written. */
  full: string;
}

/** Usernames moon accepts: a non-empty run of alphanumerics, `-`, `_` (§14.6); mooncakes.io caps them at 39. */
const USER = /^[A-Za-z0-9_-]{1,39}$/;
/** Characters a module component may not hold (§8.1, §14.2): moon refuses `#`, `?`, `%`; control characters and `\\` break paths. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const BAD_COMPONENT = /[#?%\\\u0000-\u001f\u007f]/u;

/**
 * Parses a module name as a path it names (index file, archive URL): `null` when it is not one.
 * Reading is lenient about length; publishing adds `checkPublishableName`.
 */
export function parseModuleName(full: string): ModuleName | null {
  const slash = full.indexOf('/');
  if (slash <= 0) return null;
  const user = full.slice(0, slash);
  const name = full.slice(slash + 1);
  if (!USER.test(user)) return null;
  const parts = name.split('/');
  if (parts.some((c) => c === '' || c === '.' || c === '..' || BAD_COMPONENT.test(c) || c.trim() !== c)) return null;
  return { user, name, full };
}

/** Refuses (NAME_INVALID, 400) a module name that a publish may not use, saying what to change. */
export function checkPublishableName(full: string): ModuleName {
  const parsed = parseModuleName(full);
  if (!parsed)
    fail(
      'NAME_INVALID',
      `module name ${JSON.stringify(full)} is not <user>/<name>: the user is 1–39 letters, digits, "-" or "_", and no name component is empty, ".", "..", or holds "#", "?", "%", "\\\\" or control characters`,
    );
  if (Buffer.byteLength(full) > 200) fail('NAME_INVALID', `module name ${JSON.stringify(full)} is longer than 200 bytes`);
  return parsed;
}

/**
 * The `/vN` rule (§14.6): a last component `vN` with N ≥ 2 is part of the module's identity and the
 * version's major must equal N; `/v0` and `/v1` are refused. Returns the required major, or null.
 */
export function majorSuffix(full: string): number | null {
  const m = /\/v(\d+)$/.exec(full);
  if (!m) return null;
  return Number(m[1]);
}

/** The root file listing yanked versions, in the shape mirrors of mooncakes publish (moonbit-registry-tools). */
export const YANKED_PATH = 'yanked.json';

/** The index file of a module: `user/<user>/<name>.index`. */
export function indexPath(module: string): string {
  return `user/${module}.index`;
}

/** The module an index file path belongs to, or null for any other path (`yanked.json`). */
export function moduleOfIndexPath(path: string): string | null {
  if (!path.startsWith('user/') || !path.endsWith('.index')) return null;
  const module = path.slice('user/'.length, -'.index'.length);
  return parseModuleName(module) ? module : null;
}

/** The artifact key of a module version's zip: `<user>/<name>/<version>`. */
export function archiveKey(module: string, version: string): string {
  return `${module}/${version}`;
}

/** A key split into module and version (the version is after the last `/`), or null. */
export function parseArchiveKey(key: string): { module: string; version: string } | null {
  const at = key.lastIndexOf('/');
  if (at <= 0) return null;
  const module = key.slice(0, at);
  const version = key.slice(at + 1);
  return parseModuleName(module) && version ? { module, version } : null;
}

/**
 * `application/x-www-form-urlencoded` serialisation of a key, as moon builds archive URLs (§5.1):
 * every byte but ASCII alphanumerics and `*-._` percent-encoded (UTF-8), space as `+`.
 */
export function formUrlEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2a ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f
    )
      out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The archive path of a module version below a registry base, in the single encoded segment moon asks for: `user/alice%2Fjson%2F0.1.0.zip`. */
export function archiveUrlPath(module: string, version: string): string {
  return `user/${formUrlEncode(archiveKey(module, version))}.zip`;
}

/** The same path with raw segments (the download bucket's key layout, §14.2): `user/alice/json/0.1.0.zip`, each segment percent-encoded only where a URL needs it. */
export function archiveRawPath(module: string, version: string): string {
  return `user/${archiveKey(module, version)
    .split('/')
    .map((c) => encodeURIComponent(c).replace(/%2B/g, '+'))
    .join('/')}.zip`;
}

/** Root-level files of an index besides `user/`: moonbit-registry-tools keeps `yanked.json` and `stats.json` there. */
const ROOT_JSON = /^[A-Za-z0-9][A-Za-z0-9._-]*\.json$/;

/** Whether the raw index view (`/index/*`) serves document `path`: a module's `.index` file or a JSON file at the root. */
export function indexViewPath(path: string): boolean {
  return moduleOfIndexPath(path) !== null || ROOT_JSON.test(path);
}
