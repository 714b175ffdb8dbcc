import { fail } from '../../core/errors.js';

/** One dot-separated segment; digits-only ones compare as unsigned 64-bit numbers (as Bazel's Version.Identifier). */
export interface Identifier {
  numeric: boolean;
  value: bigint;
  text: string;
}

/** A parsed module version; the empty version has no identifiers at all. */
export interface BazelVersion {
  release: Identifier[];
  prerelease: Identifier[];
  build: string;
  raw: string;
}

const VERSION = /^([a-zA-Z0-9.]+)(?:-([a-zA-Z0-9.-]+))?(?:\+([a-zA-Z0-9.-]+))?$/;
const MODULE_NAME = /^[a-z]([a-z0-9._-]*[a-z0-9])?$/;
const U64_MAX = (1n << 64n) - 1n;
const HINT = 'a Bazel module version is RELEASE[-PRERELEASE] with dot-separated letters and digits, such as 1.2.3 or 1.0.0-rc.1';

function identifiers(part: string, raw: string): Identifier[] {
  return part.split('.').map((text) => {
    if (text === '') fail('VERSION_INVALID', `invalid version ${JSON.stringify(raw)}: empty segment between dots; ${HINT}`);
    const numeric = /^[0-9]+$/.test(text);
    const value = numeric ? BigInt(text) : 0n;
    if (value > U64_MAX)
      fail('VERSION_INVALID', `invalid version ${JSON.stringify(raw)}: numeric segment ${text} is too large for Bazel (max 2^64-1)`);
    return { numeric, value, text };
  });
}

/** Parses a Bazel module version (bazel.md §1); throws VERSION_INVALID. "" is the empty version, above everything. */
export function parseBazelVersion(v: string): BazelVersion {
  if (v === '') return { release: [], prerelease: [], build: '', raw: '' };
  const m = typeof v === 'string' ? VERSION.exec(v) : null;
  if (!m) fail('VERSION_INVALID', `invalid version ${JSON.stringify(v)?.slice(0, 120) ?? String(v)}; ${HINT}`);
  return { release: identifiers(m[1], v), prerelease: m[2] ? identifiers(m[2], v) : [], build: m[3] ?? '', raw: v };
}

function compareIdentifiers(a: Identifier, b: Identifier): number {
  if (a.numeric !== b.numeric) return a.numeric ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0; // "01" vs "1": equal numbers, then text, as Bazel
}

function compareLists(a: Identifier[], b: Identifier[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareIdentifiers(a[i], b[i]);
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

function compareParsed(a: BazelVersion, b: BazelVersion): number {
  const ae = a.release.length === 0,
    be = b.release.length === 0;
  if (ae || be) return ae === be ? 0 : ae ? 1 : -1;
  const c = compareLists(a.release, b.release);
  if (c !== 0) return c;
  const ap = a.prerelease.length > 0,
    bp = b.prerelease.length > 0;
  if (ap !== bp) return ap ? -1 : 1;
  return compareLists(a.prerelease, b.prerelease);
}

/** Bazel's version order (bazel.md §10): -1, 0 or 1; build metadata is ignored. Throws on invalid versions. */
export function compareBazelVersions(a: string, b: string): number {
  return compareParsed(parseBazelVersion(a), parseBazelVersion(b));
}

/** Validates the version and drops its `+build` part (what Bazel puts in registry URLs). */
export function normalizeBazelVersion(v: string): string {
  const { build } = parseBazelVersion(v);
  return build ? v.slice(0, v.length - build.length - 1) : v;
}

/** Validates a version for publishing: §1 grammar, not empty, and no `+` (Bazel strips it and could never fetch it). */
export function validatePublishVersion(v: unknown): asserts v is string {
  if (typeof v !== 'string' || v === '') fail('VERSION_INVALID', `a version is required; ${HINT}`);
  const { build } = parseBazelVersion(v);
  if (build) {
    const plain = normalizeBazelVersion(v);
    fail(
      'VERSION_INVALID',
      `invalid version ${JSON.stringify(v)}: build metadata (+${build}) is not allowed because ` +
        `Bazel drops it and would request ${plain}; remove it and publish ${plain}`,
    );
  }
}

/** Validates a module name against ^[a-z]([a-z0-9._-]*[a-z0-9])?$ ; throws NAME_INVALID. */
export function validateModuleName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !MODULE_NAME.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 120)) : String(name);
    fail(
      'NAME_INVALID',
      `invalid module name ${shown}: use lower-case letters, digits, '.', '_' and '-', ` +
        'starting with a letter and ending with a letter or digit (e.g. rules_cc, abseil-cpp)',
    );
  }
}

/** Returns a new array sorted ascending in Bazel order; stable for versions equal after normalisation. Throws on invalid ones. */
export function sortBazelVersions(versions: string[]): string[] {
  return versions
    .map((raw) => ({ raw, parsed: parseBazelVersion(raw) }))
    .sort((a, b) => compareParsed(a.parsed, b.parsed))
    .map((e) => e.raw);
}

/** True when `v` parses as a Bazel version (imported registries may hold some that do not). */
export function isBazelVersion(v: string): boolean {
  try {
    parseBazelVersion(v);
    return true;
  } catch {
    return false;
  }
}
