/**
 * Which file of a module zip is its README, for the web UI: the one moon.mod.json's `readme` names (a path
 * from the module root, like mooncakes.io reads it), else README.md at the root (or README.mbt.md, MoonBit's
 * tested Markdown). The publish keeps only candidates as the gate passes them, each bounded: before the manifest
 * is read, root Markdown files only, so a `readme` below the root is found when the zip lists the manifest first.
 */
import { MAX_README_LENGTH } from '../../registry/readmes.js';
import { parseModFile, parseModJson } from './manifest.js';
import type { ManifestFile } from './zip.js';

/** Bytes kept of a README: enough that a longer one still decodes past the stored cap, which then cuts it with a note. */
export const README_MAX_BYTES = MAX_README_LENGTH * 3 + 4;

/**
 * Root files kept of each kind before the manifest says which one is the README (zips list entries in any order):
 * this many default-named READMEs, and this many other Markdown files its `readme` could name. Separate counts,
 * so CHANGELOG.md and friends listed first never crowd out README.md.
 */
export const MAX_README_CANDIDATES = 4;

/** README names taken when the manifest names none, in order of preference. */
const DEFAULT_NAMES = ['readme.md', 'readme.mbt.md', 'readme.markdown', 'readme'];

/**
 * The README path the manifest names, normalised like the gate normalises entry paths (`./docs/x.md` →
 * `docs/x.md`); null when it names none, or a path no entry can have. Never throws: a manifest that does not
 * parse is refused later, by the publish's own check.
 */
export function readmeField(file: ManifestFile, bytes: Buffer): string | null {
  let value: unknown;
  try {
    value = (file === 'moon.mod.json' ? parseModJson(bytes) : parseModFile(bytes)).readme;
  } catch {
    return null;
  }
  if (typeof value !== 'string') return null;
  const parts = value.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..') || value.startsWith('/')) return null;
  return parts.join('/');
}

/**
 * Whether to keep a zip entry as a README candidate, given those kept so far: `wanted` is the manifest's choice
 * (undefined while it is not read yet).
 */
export function mayBeReadme(path: string, wanted: string | null | undefined, kept: Iterable<string>): boolean {
  if (wanted !== undefined) return wanted === null ? isDefaultName(path) : path === wanted;
  // Before the manifest: a root file that is a default README, or Markdown its `readme` could name.
  if (path.includes('/')) return false;
  const kind = isDefaultName(path);
  if (!kind && !/\.(md|markdown)$/i.test(path)) return false;
  let same = 0;
  for (const p of kept) if (isDefaultName(p) === kind) same++;
  return same < MAX_README_CANDIDATES;
}

/** The README among the kept candidates (path → bytes), decoded; undefined when there is none. */
export function pickReadme(candidates: ReadonlyMap<string, Buffer>, wanted: string | null): string | undefined {
  let bytes: Buffer | undefined;
  if (wanted !== null) bytes = candidates.get(wanted);
  else {
    const byName = new Map([...candidates].map(([p, b]) => [p.toLowerCase(), b]));
    bytes = candidates.get('README.md') ?? DEFAULT_NAMES.map((n) => byName.get(n)).find((b) => b !== undefined);
  }
  return bytes === undefined ? undefined : new TextDecoder('utf-8').decode(bytes);
}

function isDefaultName(path: string): boolean {
  return DEFAULT_NAMES.includes(path.toLowerCase());
}
