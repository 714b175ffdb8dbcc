// The functions one by one: the whole package (ranges and all) is more to load at every start (cold start, issue 14).
import semverGt from 'semver/functions/gt.js';
import semverPrerelease from 'semver/functions/prerelease.js';
import semverRcompare from 'semver/functions/rcompare.js';
import semverValid from 'semver/functions/valid.js';
import { fail } from '../../core/errors.js';

// SemVer 2.0.0, exactly (no leading `v`, no leading zeros), as Cargo's `semver` crate accepts it.
const NUM = '(?:0|[1-9]\\d*)';
const PRE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(`^${NUM}\\.${NUM}\\.${NUM}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

/** Throws VERSION_INVALID unless `vers` is a SemVer 2.0.0 version. */
export function validateVersion(vers: unknown): asserts vers is string {
  if (typeof vers !== 'string' || !SEMVER.test(vers)) {
    fail(
      'VERSION_INVALID',
      `invalid version ${JSON.stringify(vers)}: versions must be SemVer 2.0.0, like 1.2.3, 1.2.3-beta.1 or 1.2.3+build.5`,
    );
  }
}

export { versionKey } from './version-key.js';

const PART = '(?:0|[1-9]\\d*|\\*|x|X)';
const COMPARATOR = new RegExp(
  `^\\s*(?:=|>=|>|<=|<|~|\\^)?\\s*${PART}(?:\\.${PART}(?:\\.${PART}(?:-[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?)?)?\\s*$`,
);

/** True when `req` is a Cargo version requirement (comma-separated comparators, or `*`). */
export function isVersionReq(req: unknown): req is string {
  if (typeof req !== 'string' || req.trim() === '') return false;
  return req.split(',').every((c) => COMPARATOR.test(c));
}

/**
 * The version a new dependant gets (`cargo add`, a crates.io page's default): the highest release that is not
 * yanked, or the highest pre-release when no release is left; null when every version is yanked.
 */
export function defaultVersion(versions: ReadonlyArray<{ vers: string; yanked: boolean }>): string | null {
  const live = versions.filter((v) => !v.yanked && semverValid(v.vers) !== null).map((v) => v.vers);
  const releases = live.filter((v) => semverPrerelease(v) === null);
  const pool = releases.length > 0 ? releases : live;
  return pool.length > 0 ? pool.reduce((a, b) => (semverGt(b, a) ? b : a)) : null;
}

/** Sorts versions newest first by SemVer precedence (versions that do not parse go last, in their order). */
export function newestFirst<T extends { vers: string }>(versions: readonly T[]): T[] {
  const valid = versions.filter((v) => semverValid(v.vers) !== null);
  const invalid = versions.filter((v) => semverValid(v.vers) === null);
  return [...valid.sort((a, b) => semverRcompare(a.vers, b.vers)), ...invalid];
}
