/**
 * Index files (protocols/moonbit.md §4): JSON Lines, one line per version, each the module's
 * moon.mod.json plus `checksum`. Read the way moon reads them: a line that does not parse is skipped
 * when listing; the checksum of a version is the one on the last line naming it.
 */
// The one function: the whole package (ranges and all) is more to load at every start (cold start, issue 14).
import parseSemver from 'semver/functions/parse.js';

/** One version line as moon reads it (kebab-case manifest keys are kept as they are). */
export interface IndexLine {
  name?: string;
  version: string;
  deps?: Record<string, DepSpec> | null;
  checksum?: string;
  [key: string]: unknown;
}

/** A dependency value (§4.2): a version string, or `{version}`, `{path, version?}`, `{git, branch?, version?}`. */
export type DepSpec = string | { version?: string; path?: string; git?: string; branch?: string };

/** The lines of an index file that parse as objects with a string `version`, in file order, with their text. */
function indexLines(body: Uint8Array): Array<{ line: IndexLine; text: string }> {
  const out: Array<{ line: IndexLine; text: string }> = [];
  for (const raw of Buffer.from(body).toString('utf8').split('\n')) {
    const text = raw.trim();
    if (!text) continue;
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as IndexLine).version === 'string')
        out.push({ line: v as IndexLine, text });
    } catch {
      // moon skips a line it cannot parse when it lists versions.
    }
  }
  return out;
}

/** The lines of an index file that parse as objects with a string `version`, in file order. */
export function parseIndexLines(body: Uint8Array): IndexLine[] {
  return indexLines(body).map((l) => l.line);
}

/** The line of a version (the last one naming it, as moon's checksum lookup finds it), or null. */
export function findVersionLine(body: Uint8Array, version: string): IndexLine | null {
  return findVersionLineText(body, version)?.line ?? null;
}

/** The line of a version as `findVersionLine` finds it, with its text as stored (trimmed), or null. */
export function findVersionLineText(body: Uint8Array, version: string): { line: IndexLine; text: string } | null {
  const lines = indexLines(body);
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.line.version === version) return lines[i]!;
  return null;
}

/** The registry dependencies of a line: module → minimum version (path and git dependencies are not the registry's). */
export function registryDeps(line: IndexLine): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, spec] of Object.entries(line.deps ?? {})) {
    if (typeof spec === 'string') out.set(name, spec);
    else if (spec && typeof spec === 'object' && spec.path === undefined && spec.git === undefined && typeof spec.version === 'string')
      out.set(name, spec.version);
  }
  return out;
}

/** The standard library: treated by moon as present at 0.0.0 and never downloaded (§4.2). */
export const CORE_MODULE = 'moonbitlang/core';

/** The canonical text of a SemVer 2.0 version (build metadata kept: `0.1.20240513+2813c901e`), or null when `v` is not SemVer. */
export function canonicalVersion(v: string): string | null {
  const parsed = parseSemver(v, { loose: false });
  if (!parsed) return null;
  return parsed.build.length ? `${parsed.version}+${parsed.build.join('.')}` : parsed.version;
}
