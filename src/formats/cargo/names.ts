import { fail } from '../../core/errors.js';

const CRATE_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const MAX_NAME_LENGTH = 64;
// Windows cannot create files with these names, so a crate called `nul` breaks checkouts there.
const RESERVED = new Set(['nul', 'con', 'prn', 'aux', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`com${n}`, `lpt${n}`])]);

/** Throws NAME_INVALID unless `name` follows the crates.io rules for a new crate name. */
export function validateCrateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) fail('NAME_INVALID', 'the crate name is empty; set package.name in Cargo.toml');
  if (name.length > MAX_NAME_LENGTH)
    fail('NAME_INVALID', `the crate name "${name.slice(0, 80)}…" is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`);
  if (!CRATE_NAME.test(name)) {
    fail('NAME_INVALID', `invalid crate name "${name}": use only ASCII letters, digits, '-' and '_', starting with a letter`);
  }
  if (RESERVED.has(name.toLowerCase())) fail('NAME_INVALID', `"${name}" is a reserved name on Windows and cannot be used as a crate name`);
}

/** The collision key: `Foo-Bar`, `foo_bar` and `FOO_BAR` are one crate. */
export function normCrateName(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/** The sparse index path of a crate (relative to the index root), as Cargo computes it. */
export function indexPath(name: string): string {
  const n = name.toLowerCase();
  if (n.length === 1) return `1/${n}`;
  if (n.length === 2) return `2/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

const INDEX_NAME = /^[a-z0-9_-]+$/;

/** The crate name an index path asks for, or null when the path is not one Cargo builds. */
export function crateNameFromIndexPath(path: string): string | null {
  // Asked on every index read: no array of the path's segments.
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (!name || !INDEX_NAME.test(name)) return null;
  return indexPath(name) === path ? name : null;
}

/** The artifact key of a `.crate` file: the name as the index line spells it, then the version. */
export function crateKey(crate: string, version: string): string {
  return `${crate}/${version}`;
}
