/**
 * Julia version numbers and registry version ranges (julia.md §8), following Pkg's
 * `Versions.jl` (VersionBound, VersionRange, union!, semver_spec) so output matches RegistryTools.
 */
import { fail } from '../../core/errors.js';

type Ident = string | number;

/** A Julia `VersionNumber`: major.minor.patch with optional prerelease and build identifiers. */
export interface VersionNumber {
  major: number;
  minor: number;
  patch: number;
  prerelease: Ident[];
  build: Ident[];
}

const IDENTS = '((?:[0-9a-z-]+\\.)*[0-9a-z-]+)';
const VERSION_RE = new RegExp(`^v?(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(?:-${IDENTS})?(?:\\+${IDENTS})?$`, 'i');

function component(s: string | undefined, what: string, input: string): number {
  if (s === undefined) return 0;
  const n = Number(s);
  if (!Number.isSafeInteger(n)) fail('VERSION_INVALID', `${what} ${JSON.stringify(input)} has a component too large: ${s}`);
  return n;
}

const idents = (s: string | undefined): Ident[] => (s === undefined ? [] : s.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)));

/** Parses a Julia version (`1.2.3`, `v1.2`, `1.0.0-rc.1+build.5`); missing components are 0. */
export function parseVersion(s: string): VersionNumber {
  const m = VERSION_RE.exec(s);
  if (!m)
    fail('VERSION_INVALID', `invalid version ${JSON.stringify(s)}: expected major[.minor[.patch]][-prerelease][+build], e.g. "1.2.3"`);
  return {
    major: component(m[1], 'version', s),
    minor: component(m[2], 'version', s),
    patch: component(m[3], 'version', s),
    prerelease: idents(m[4]),
    build: idents(m[5]),
  };
}

/** Prints a version as Julia does (`1.2.3-rc.1+b`). */
export function formatVersion(v: VersionNumber): string {
  let s = `${v.major}.${v.minor}.${v.patch}`;
  if (v.prerelease.length) s += `-${v.prerelease.join('.')}`;
  if (v.build.length) s += `+${v.build.join('.')}`;
  return s;
}

function cmpIdent(a: Ident, b: Ident): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpIdents(a: Ident[], b: Ident[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmpIdent(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Orders versions as Julia's `isless` (semver precedence, then build; no build sorts first). */
export function compareVersions(x: VersionNumber | string, y: VersionNumber | string): number {
  const a = typeof x === 'string' ? parseVersion(x) : x;
  const b = typeof y === 'string' ? parseVersion(y) : y;
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (d !== 0) return Math.sign(d);
  // A release sorts after its prereleases; extra build identifiers sort after none.
  const pre =
    !a.prerelease.length || !b.prerelease.length ? b.prerelease.length - a.prerelease.length : cmpIdents(a.prerelease, b.prerelease);
  if (pre !== 0) return Math.sign(pre);
  const build = !a.build.length || !b.build.length ? a.build.length - b.build.length : cmpIdents(a.build, b.build);
  return Math.sign(build);
}

/** A range bound: the first `n` of `t` are given (n = 0 is `*`), the rest are 0. */
export interface VersionBound {
  t: [number, number, number];
  n: 0 | 1 | 2 | 3;
}

/** A registry version range `lo-hi`, normalised as Pkg's `VersionRange` constructor does. */
export interface VersionRange {
  lo: VersionBound;
  hi: VersionBound;
}

/** Builds a bound from 0–3 components. */
export function bound(...c: number[]): VersionBound {
  if (c.length > 3) fail('VERSION_INVALID', 'a version bound has at most 3 components (major.minor.patch)');
  return { t: [c[0] ?? 0, c[1] ?? 0, c[2] ?? 0], n: c.length as VersionBound['n'] };
}

/** Parses `*` or 1–3 dot-separated integers with an optional leading `v`. */
export function parseBound(input: string): VersionBound {
  let s = input.trim();
  if (s === '*') return bound();
  if (s.startsWith('v')) s = s.slice(1);
  const parts = s.split('.');
  if (parts.length > 3 || !parts.every((p) => /^\d+$/.test(p))) {
    fail('VERSION_INVALID', `invalid version bound ${JSON.stringify(input)}: expected "*" or 1–3 dot-separated numbers such as "1.2"`);
  }
  return bound(...parts.map((p) => component(p, 'version bound', input)));
}

const sameTuple = (a: VersionBound, b: VersionBound) => a.t.every((x, i) => x === b.t[i]);
const sameBound = (a: VersionBound, b: VersionBound) => a.n === b.n && sameTuple(a, b);

/** Makes a range; if the padded tuples are equal, lo takes hi's form (`1.2-1.2.0` ≡ `1.2.0`). */
export function range(lo: VersionBound, hi: VersionBound): VersionRange {
  return { lo: sameTuple(lo, hi) ? hi : lo, hi };
}

/** Parses a registry range: `lo-hi`, `lo - hi` or a single bound. */
export function parseRange(s: string): VersionRange {
  const p = s.split('-');
  if (p.length > 2)
    fail('VERSION_INVALID', `invalid version range ${JSON.stringify(s)}: use "lo-hi" or a single bound (no prerelease syntax)`);
  const lo = parseBound(p[0]);
  return range(lo, p.length === 1 ? lo : parseBound(p[1]));
}

const head = (b: VersionBound) => b.t.slice(0, b.n).join('.');

/** Prints a range without spaces: `*`, `a.b.c` when lo == hi, `lo-hi`, `lo-*` (`0-hi` for `*-hi`). */
export function formatRange(r: VersionRange): string {
  const { lo, hi } = r;
  if (lo.n === 0 && hi.n === 0) return '*';
  if (lo.n === 0) return `0-${head(hi)}`;
  if (hi.n === 0) return `${head(lo)}-*`;
  return sameBound(lo, hi) ? head(lo) : `${head(lo)}-${head(hi)}`;
}

/** True when `v` (version or string) is in the range; prerelease/build are ignored. */
export function contains(r: VersionRange, version: VersionNumber | string): boolean {
  const v = typeof version === 'string' ? parseVersion(version) : version;
  const vt = [v.major, v.minor, v.patch];
  const cmp = (b: VersionBound) => {
    for (let i = 0; i < b.n; i++) if (vt[i] !== b.t[i]) return vt[i] - b.t[i];
    return 0;
  };
  return cmp(r.lo) >= 0 && cmp(r.hi) <= 0;
}

/** True when no version can be in the range (lo > hi at the first differing component). */
export function isEmptyRange(r: VersionRange): boolean {
  for (let i = 0; i < Math.min(r.lo.n, r.hi.n); i++) {
    if (r.lo.t[i] !== r.hi.t[i]) return r.lo.t[i] > r.hi.t[i];
  }
  return false;
}

function lessLower(a: VersionBound, b: VersionBound): boolean {
  for (let i = 0; i < Math.min(a.n, b.n); i++) if (a.t[i] !== b.t[i]) return a.t[i] < b.t[i];
  return a.n < b.n;
}

function lessUpper(a: VersionBound, b: VersionBound): boolean {
  for (let i = 0; i < Math.min(a.n, b.n); i++) if (a.t[i] !== b.t[i]) return a.t[i] < b.t[i];
  return a.n > b.n;
}

function joinable(up: VersionBound, lo: VersionBound): boolean {
  if (up.n === 0 && lo.n === 0) return true;
  if (up.n === lo.n) {
    const n = up.n;
    for (let i = 0; i < n - 1; i++) if (up.t[i] !== lo.t[i]) return up.t[i] > lo.t[i];
    return !(up.t[n - 1] < lo.t[n - 1] - 1);
  }
  for (let i = 0; i < Math.min(up.n, lo.n); i++) if (up.t[i] !== lo.t[i]) return up.t[i] > lo.t[i];
  return true;
}

/** Sorts, drops empty ranges and merges joinable ones, exactly as Pkg's `union!` (`0.8`+`0.9` → `0.8-0.9`). */
export function unionRanges(input: VersionRange[]): VersionRange[] {
  const rs = [...input]
    .sort((a, b) =>
      lessLower(a.lo, b.lo) || (sameBound(a.lo, b.lo) && lessUpper(a.hi, b.hi))
        ? -1
        : lessLower(b.lo, a.lo) || (sameBound(a.lo, b.lo) && lessUpper(b.hi, a.hi))
          ? 1
          : 0,
    )
    .filter((r) => !isEmptyRange(r));
  if (!rs.length) return [];
  const out: VersionRange[] = [];
  let { lo, hi } = rs[0];
  for (const r of rs.slice(1)) {
    if (joinable(hi, r.lo)) {
      if (lessUpper(hi, r.hi)) hi = r.hi;
      continue;
    }
    out.push(range(lo, hi));
    ({ lo, hi } = r);
  }
  const last = range(lo, hi);
  if (!isEmptyRange(last)) out.push(last);
  return out;
}

const V = 'v?([0-9]+?)(?:\\.([0-9]+?))?(?:\\.([0-9]+?))?';
const CARET_RE = new RegExp(`^([~^]?)?${V}$`, 'u');
const INEQ_RE = new RegExp(`^((?:≥\\s*)|(?:>=\\s*)|(?:=\\s*)|(?:<\\s*))v?${V}$`, 'u');
const HYPHEN_RE = new RegExp(`^\\s*${V}\\s*?\\s-\\s\\s*?${V}\\s*$`, 'u');

function parts(m: RegExpExecArray, from: number, input: string): number[] {
  const out: number[] = [];
  for (let i = from; i < from + 3 && m[i] !== undefined; i++) out.push(component(m[i], 'compat entry', input));
  return out;
}

function compatPart(s: string, entry: string): VersionRange {
  let m: RegExpExecArray | null;
  if ((m = CARET_RE.exec(s))) {
    const c = parts(m, 2, entry);
    const [major, minor = 0, patch = 0] = c;
    if (c.length === 3 && major === 0 && minor === 0 && patch === 0)
      fail('VERSION_INVALID', `invalid compat ${JSON.stringify(entry)}: "0.0.0" matches nothing; use "0.0.1" or a range`);
    const v0 = bound(major, minor, patch);
    if (m[1] === '~') return range(v0, c.length === 1 ? bound(major) : bound(major, minor));
    if (major !== 0) return range(v0, bound(major));
    if (minor !== 0) return range(v0, bound(0, minor));
    return range(v0, c.length === 1 ? bound(0) : c.length === 2 ? bound(0, 0) : bound(0, 0, patch));
  }
  if ((m = INEQ_RE.exec(s))) {
    const c = parts(m, 2, entry);
    const [major, minor = 0, patch = 0] = c;
    if (c.length === 3 && major === 0 && minor === 0 && patch === 0)
      fail('VERSION_INVALID', `invalid compat ${JSON.stringify(entry)}: "0.0.0" is not a valid version`);
    const v = bound(major, minor, patch);
    const op = m[1].trim();
    if (op === '=') return range(v, v);
    if (op === '>=' || op === '≥') return range(v, bound());
    const below = patch !== 0 ? [major, minor, patch - 1] : minor !== 0 ? [major, minor - 1] : [major - 1];
    if (below[below.length - 1] < 0)
      fail('VERSION_INVALID', `invalid compat ${JSON.stringify(entry)}: "< ${major}" excludes every version`);
    return range(bound(0, 0, 0), bound(...below));
  }
  if ((m = HYPHEN_RE.exec(s))) return range(bound(...parts(m, 1, entry)), bound(...parts(m, 4, entry)));
  fail(
    'VERSION_INVALID',
    `invalid compat entry ${JSON.stringify(entry)}: use "1.2", "^1.2.3", "~1.2", "= 1.2", ">= 1.2", "< 2" or "0.7 - 1.3" (spaces required around "-"), comma-separated`,
  );
}

/** Converts a Project.toml `[compat]` value to the registry's string (or array for a union), §8.3. */
export function semverToRegistry(compat: string): string | string[] {
  const ranges = unionRanges(
    compat
      .trim()
      .split(',')
      .map((p) => compatPart(p.trim(), compat)),
  );
  if (!ranges.length)
    fail(
      'VERSION_INVALID',
      `compat entry ${JSON.stringify(compat)} matches no version; check that each lower bound is below its upper bound`,
    );
  const out = ranges.map(formatRange);
  return out.length === 1 ? out[0] : out;
}
