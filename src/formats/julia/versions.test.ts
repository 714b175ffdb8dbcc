import { describe, it, expect } from 'vitest';
import { thrown } from '../../../test/support/errors.js';
import {
  compareVersions,
  contains,
  formatRange,
  formatVersion,
  isEmptyRange,
  parseBound,
  parseRange,
  parseVersion,
  semverToRegistry,
  unionRanges,
} from './versions.js';

describe('VersionNumber', () => {
  it('parses full, short, v-prefixed, prerelease and build forms', () => {
    expect(parseVersion('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [], build: [] });
    expect(formatVersion(parseVersion('v1.2'))).toBe('1.2.0');
    expect(parseVersion('1.0.0-rc.1+build.5')).toEqual({ major: 1, minor: 0, patch: 0, prerelease: ['rc', 1], build: ['build', 5] });
  });

  it.each(['', '1.2.3.4', '1..2', 'a.b', '1.2.3-', '1.2.3+', ' 1.2.3', '1.2.3-rc..1'])('rejects %j', (s) => {
    expect(thrown(() => parseVersion(s)).code).toBe('VERSION_INVALID');
  });

  it('orders like semver (numbers numerically, prerelease before release, build after)', () => {
    const sorted = [
      '0.10.0',
      '1.0.0',
      '0.2.0',
      '1.0.0-rc.1',
      '1.0.0-alpha',
      '1.0.0-alpha.2',
      '1.0.0-alpha.10',
      '1.0.0+b',
      '0.2.0-beta',
    ].sort(compareVersions);
    expect(sorted).toEqual([
      '0.2.0-beta',
      '0.2.0',
      '0.10.0',
      '1.0.0-alpha',
      '1.0.0-alpha.2',
      '1.0.0-alpha.10',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.0+b',
    ]);
    expect(compareVersions('1.2', '1.2.0')).toBe(0);
  });
});

describe('bounds and ranges (§8.1, §8.2)', () => {
  it('parses bounds', () => {
    expect(parseBound('*')).toEqual({ t: [0, 0, 0], n: 0 });
    expect(parseBound('v1.2')).toEqual({ t: [1, 2, 0], n: 2 });
    expect(parseBound(' 3 ')).toEqual({ t: [3, 0, 0], n: 1 });
  });

  it.each(['1.2.3.4', '', 'x', '1.', '-1', '1.2-3'])('rejects bound %j', (s) => {
    expect(thrown(() => parseBound(s)).code).toBe('VERSION_INVALID');
  });

  // [string, inside, outside]: versions that must / must not be members.
  it.each([
    ['1', ['1.0.0', '1.99.99'], ['0.99.0', '2.0.0']],
    ['0.8', ['0.8.0', '0.8.9'], ['0.7.9', '0.9.0']],
    ['1.2.3', ['1.2.3', '1.2.3-rc1', '1.2.3+b'], ['1.2.2', '1.2.4']],
    ['0.7-0.8', ['0.7.0', '0.8.99'], ['0.6.9', '0.9.0']],
    ['0.7-0', ['0.7.0', '0.99.0'], ['0.6.0', '1.0.0']],
    ['1.12.0-1', ['1.12.0', '1.99.0'], ['1.11.9', '2.0.0']],
    ['0.7-*', ['0.7.0', '99.0.0'], ['0.6.99']],
    ['*', ['0.0.0', '99.9.9'], []],
    ['0.0-1.4', ['0.0.0', '1.4.99'], ['1.5.0']],
  ])('%s', (s, inside, outside) => {
    const r = parseRange(s);
    for (const v of inside) expect(contains(r, v), `${v} ∈ ${s}`).toBe(true);
    for (const v of outside) expect(contains(r, v), `${v} ∉ ${s}`).toBe(false);
    expect(formatRange(r)).toBe(s);
  });

  it('accepts spaces around "-" and prints without them', () => {
    expect(formatRange(parseRange('0.7 - 0.8'))).toBe('0.7-0.8');
    expect(formatRange(parseRange('1.2.0 - *'))).toBe('1.2.0-*');
    expect(formatRange(parseRange('v1 - v2'))).toBe('1-2');
  });

  it('normalises equal padded tuples to the upper form', () => {
    expect(formatRange(parseRange('1.2-1.2.0'))).toBe('1.2.0');
    expect(formatRange(parseRange('1.2.0-1.2'))).toBe('1.2');
    expect(formatRange(parseRange('*-*'))).toBe('*');
    expect(formatRange(parseRange('*-1.2'))).toBe('0-1.2');
  });

  it('rejects more than one "-"', () => {
    expect(thrown(() => parseRange('1.0.0-rc1-2')).code).toBe('VERSION_INVALID');
  });

  it('detects empty ranges', () => {
    expect(isEmptyRange(parseRange('0.8-0.7'))).toBe(true);
    expect(isEmptyRange(parseRange('1.2.3-1.2.2'))).toBe(true);
    expect(isEmptyRange(parseRange('1.2-1'))).toBe(false);
    expect(isEmptyRange(parseRange('2-*'))).toBe(false);
  });

  it('unions like Pkg union! (same-length adjacent bounds join)', () => {
    const u = (...s: string[]) => unionRanges(s.map(parseRange)).map(formatRange);
    expect(u('0.9', '0.8')).toEqual(['0.8-0.9']);
    expect(u('0.8', '0.10')).toEqual(['0.8', '0.10']);
    expect(u('0', '1')).toEqual(['0-1']);
    expect(u('0-0.2', '1')).toEqual(['0-0.2', '1']);
    expect(u('1.5-2.8', '2.5-3')).toEqual(['1.5-3']);
    expect(u('0.8-0.7')).toEqual([]);
  });
});

describe('semverToRegistry (§8.3)', () => {
  it.each([
    ['1.2.3', '1.2.3-1'],
    ['^1.2.3', '1.2.3-1'],
    ['1.2', '1.2.0-1'],
    ['1', '1'],
    ['0.2.3', '0.2.3-0.2'],
    ['0.2', '0.2'],
    ['0.0.3', '0.0.3'],
    ['0.0', '0.0'],
    ['0', '0'],
    ['~1.2.3', '1.2.3-1.2'],
    ['~1.2', '1.2'],
    ['~1', '1'],
    ['=1.2.3', '1.2.3'],
    ['=1.2', '1.2.0'],
    ['>= 1.2', '1.2.0-*'],
    ['≥ 1.2', '1.2.0-*'],
    ['>=1.2', '1.2.0-*'],
    ['< 1.2', '0.0.0-1.1'],
    ['< 1.2.3', '0.0.0-1.2.2'],
    ['< 2', '0.0.0-1'],
    ['0.7 - 1.3', '0.7-1.3'],
    ['0.8, 0.10', ['0.8', '0.10']],
    ['0.8, 0.9', '0.8-0.9'],
    ['0.10, 0.8', ['0.8', '0.10']],
    ['1.6, 1.7', '1.6.0-1'],
    ['0.7, 1', ['0.7', '1']], // Pkg's isjoinable: bounds of different length do not join here
    [' v1.2 ', '1.2.0-1'],
  ])('%j → %j', (compat, expected) => {
    expect(semverToRegistry(compat)).toEqual(expected);
  });

  it.each(['0.0.0', '= 0.0.0', '0.7-1.3', '> 1', '1.2.3.4', 'abc', '', '1,', '< 0', '0.8 - 0.7'])('rejects %j', (compat) => {
    const err = thrown(() => semverToRegistry(compat));
    expect(err.code).toBe('VERSION_INVALID');
    expect(err.message).toContain(JSON.stringify(compat));
  });
});
