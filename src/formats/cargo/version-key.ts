/** Apart from semver.ts, which loads the `semver` package: the client setup needs only this (cold start, issue 14). */

/** The version without build metadata: two versions that differ only there are the same release. */
export function versionKey(vers: string): string {
  const plus = vers.indexOf('+');
  return plus < 0 ? vers : vers.slice(0, plus);
}
