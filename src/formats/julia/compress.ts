/**
 * Registry range compression (julia.md §9), a port of RegistryTools' `Compress.jl`:
 * Deps/Compat files are stored with range keys and edited per version.
 */
import { fail } from '../../core/errors.js';
import {
  bound,
  compareVersions,
  contains,
  formatRange,
  formatVersion,
  parseRange,
  parseVersion,
  range,
  unionRanges,
  type VersionNumber,
  type VersionRange,
} from './versions.js';

/** Expands a compressed table to per-version data for the versions in `pool` (§9 Load). */
export function loadCompressed(table: Record<string, Record<string, unknown>>, pool: string[]): Map<string, Record<string, unknown>> {
  const versions = [...pool].sort(compareVersions).map((s) => ({ s, v: parseVersion(s) }));
  const out = new Map<string, Map<string, { key: string; value: unknown }>>();
  for (const [key, data] of Object.entries(table)) {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      fail('METADATA_INVALID', `registry table [${key}] must be a table of name = value entries`);
    }
    const r = parseRange(key);
    for (const { s, v } of versions) {
      if (!contains(r, v)) continue;
      let entries = out.get(s);
      if (!entries) out.set(s, (entries = new Map()));
      for (const [name, value] of Object.entries(data)) {
        const prev = entries.get(name);
        if (prev) {
          fail(
            'METADATA_INVALID',
            `Overlapping ranges for ${name}: version ${s} is covered by both [${JSON.stringify(prev.key)}] and [${JSON.stringify(key)}]; keep ${name} in only one of them`,
          );
        }
        entries.set(name, { key, value });
      }
    }
  }
  const result = new Map<string, Record<string, unknown>>();
  for (const { s } of versions) {
    const entries = out.get(s);
    if (entries) result.set(s, Object.fromEntries([...entries].map(([n, e]) => [n, e.value])));
  }
  return result;
}

const strip = (v: VersionNumber): VersionNumber => ({ ...v, prerelease: [], build: [] });
const same = (a: VersionNumber, b: VersionNumber) => compareVersions(a, b) === 0;

/** RegistryTools' `compress_versions`: ranges covering exactly `subset` within `pool`, then `union!`. */
export function compressVersions(pool: VersionNumber[], subset: VersionNumber[]): VersionRange[] {
  const p = pool.map(strip);
  let s = subset.map(strip).sort(compareVersions);
  const complement = p.filter((v) => !s.some((x) => same(x, v)));
  const ranges: VersionRange[] = [];
  again: while (s.length) {
    const a = s[0];
    for (const b of [...s].reverse()) {
      if (a.major !== b.major) continue;
      for (let m = 1; m <= 3; m++) {
        const lo = bound(...[a.major, a.minor, a.patch].slice(0, m));
        for (let n = 1; n <= 3; n++) {
          const r = range(lo, bound(...[b.major, b.minor, b.patch].slice(0, n)));
          if (!complement.some((v) => contains(r, v))) {
            s = s.filter((v) => !contains(r, v));
            ranges.push(r);
            continue again;
          }
        }
      }
    }
    // Unreachable: `a.major.minor.patch` alone never contains a complement version.
    fail('INTERNAL', `range compression found no range for ${formatVersion(a)}`);
  }
  return unionRanges(ranges);
}

/** Removes spaces around `-` in range strings so equal ranges group together. */
function normaliseValue(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\s*-\s*/g, '-');
  if (Array.isArray(value)) return value.map(normaliseValue);
  return value;
}

/** Compresses per-version data into range-keyed tables over `pool` (§9 Compress). */
export function compress(perVersion: Map<string, Record<string, unknown>>, pool: string[]): Record<string, Record<string, unknown>> {
  const poolVersions = pool.map(parseVersion);
  const groups = new Map<string, { name: string; value: unknown; versions: VersionNumber[] }>();
  for (const [ver, data] of perVersion) {
    const v = parseVersion(ver);
    if (!poolVersions.some((x) => same(x, v))) {
      fail('METADATA_INVALID', `version ${ver} has dependency data but is not in Versions.toml; add it to the pool first`);
    }
    for (const [name, raw] of Object.entries(data)) {
      const value = normaliseValue(raw);
      const id = JSON.stringify([name, value]);
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { name, value, versions: [] }));
      g.versions.push(v);
    }
  }
  const tables = new Map<string, Map<string, unknown>>();
  for (const g of groups.values()) {
    for (const r of compressVersions(poolVersions, g.versions)) {
      const key = formatRange(r);
      let t = tables.get(key);
      if (!t) tables.set(key, (t = new Map()));
      t.set(g.name, g.value);
    }
  }
  return Object.fromEntries([...tables].map(([k, t]) => [k, Object.fromEntries(t)]));
}
