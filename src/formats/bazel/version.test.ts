import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { thrown } from '../../../test/support/errors.js';
import { describe, expect, it } from 'vitest';
import {
  compareBazelVersions,
  normalizeBazelVersion,
  parseBazelVersion,
  sortBazelVersions,
  validateModuleName,
  validatePublishVersion,
} from './version.js';

/** Asserts that `versions` is strictly ascending, checking every pair both ways. */
function expectAscending(versions: string[]): void {
  for (let i = 0; i < versions.length; i++) {
    for (let j = 0; j < versions.length; j++) {
      expect([versions[i], versions[j], Math.sign(compareBazelVersions(versions[i], versions[j]))]).toEqual([
        versions[i],
        versions[j],
        Math.sign(i - j),
      ]);
    }
  }
}

describe('parseBazelVersion (bazel.md §1)', () => {
  it('splits release, prerelease and build', () => {
    const v = parseBazelVersion('1.02.a-rc.1-x+build.7');
    expect(v.release.map((i) => i.text)).toEqual(['1', '02', 'a']);
    expect(v.release.map((i) => i.numeric)).toEqual([true, true, false]);
    expect(v.release[1].value).toBe(2n);
    expect(v.prerelease.map((i) => i.text)).toEqual(['rc', '1-x']);
    expect(v.build).toBe('build.7');
    expect(v.raw).toBe('1.02.a-rc.1-x+build.7');
  });

  it('accepts the empty version, upper case, any number of segments', () => {
    expect(parseBazelVersion('')).toEqual({ release: [], prerelease: [], build: '', raw: '' });
    for (const ok of ['1.1.1-RC1', '10.46-DEV', '20240116.1', '0.1.0.bcr.1', '1', '1.2.3.4.5.6', 'abc', '1.0-rc-1', '1.0--']) {
      expect(parseBazelVersion(ok).raw).toBe(ok);
    }
  });

  it.each([
    '1..0',
    '-1',
    '1.0-',
    '1.0+',
    '1.0 ',
    ' 1.0',
    'v1 0',
    '../1',
    '1.0/2',
    '.1',
    '1.',
    '1.0-rc.',
    '1.0-.rc',
    '1.0+a+b',
    '1_0',
    'é',
    '+build',
    '1.0-rc..1',
    '18446744073709551616',
  ])('rejects %j', (bad) => {
    const err = thrown(() => parseBazelVersion(bad));
    expect(err.code).toBe('VERSION_INVALID');
    expect(err.message).toContain(JSON.stringify(bad));
    expect(err.message).toMatch(/1\.2\.3|too large/);
  });

  it('allows numeric segments up to 2^64-1 like Bazel', () => {
    expect(parseBazelVersion('18446744073709551615').release[0].value).toBe(18446744073709551615n);
    expect(compareBazelVersions('18446744073709551615', '9223372036854775808')).toBe(1);
  });
});

describe('compareBazelVersions (bazel.md §10)', () => {
  it('orders the examples of §10', () => {
    expectAscending(['1.0-rc1', '1.0', '1.0.0', '1.0.1', '1.2', '1.10', '1.a']);
    expectAscending(['20230125.1', '20240116.1']);
  });

  it('compares numeric identifiers as numbers, before strings, strings by ASCII', () => {
    expectAscending(['2', '9', '10', '100', 'A', 'Z', 'a', 'a1', 'b', 'z']);
    expectAscending(['1.9', '1.10', '1.10a', '1.9a']); // '10a' < '9a' as strings
    expectAscending(['1.1', '1.01'].reverse()); // equal numbers fall back to text: "01" < "1"
    expectAscending(['3.0.0', '3.0.0.beta7', '3.0.0.beta8', '3.0.1']); // a release prefix is smaller
  });

  it('puts prereleases below their release and orders them element-wise', () => {
    expectAscending([
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1-0',
      '1.0.1',
    ]);
    expectAscending(['5.0.0-alpha2', '5.0.0', '5.0.1']);
    expectAscending(['1.0-rc.1', '1.0-rc-2']); // "rc-2" is one string identifier, and "rc" is its prefix
  });

  it('handles upper case', () => {
    expectAscending(['1.1.1-RC1', '1.1.1-rc1', '1.1.1']);
    expectAscending(['10.46-DEV', '10.46']);
    expectAscending(['1.A', '1.a']);
  });

  it('ignores build metadata', () => {
    expect(compareBazelVersions('1.1.0+11140bec96', '1.1.0')).toBe(0);
    expect(compareBazelVersions('1.0-rc1+a', '1.0-rc1+b')).toBe(0);
    expect(compareBazelVersions('1.0+z', '1.0.0+a')).toBe(-1);
  });

  it('puts the empty version above everything', () => {
    expect(compareBazelVersions('', '99999999.z')).toBe(1);
    expect(compareBazelVersions('1.0', '')).toBe(-1);
    expect(compareBazelVersions('', '')).toBe(0);
  });

  it('throws VERSION_INVALID for an invalid side', () => {
    expect(thrown(() => compareBazelVersions('1.0', '1..0')).code).toBe('VERSION_INVALID');
  });
});

describe('normalizeBazelVersion', () => {
  it('drops only the build part', () => {
    expect(normalizeBazelVersion('1.1.0+11140bec96')).toBe('1.1.0');
    expect(normalizeBazelVersion('1.0-rc.1+b-2.x')).toBe('1.0-rc.1');
    expect(normalizeBazelVersion('1.0-rc.1')).toBe('1.0-rc.1');
    expect(normalizeBazelVersion('')).toBe('');
    expect(thrown(() => normalizeBazelVersion('1.0+')).code).toBe('VERSION_INVALID');
  });
});

describe('validatePublishVersion', () => {
  it('accepts grammatical versions without build metadata', () => {
    for (const ok of ['1.0.0', '0.1.0.bcr.1', '1.1.1-RC1', '20240116.1', '1.0.0-rc.1']) validatePublishVersion(ok);
  });

  it('rejects build metadata, saying what Bazel would request instead', () => {
    const err = thrown(() => validatePublishVersion('1.1.0+11140bec96'));
    expect(err.code).toBe('VERSION_INVALID');
    expect(err.message).toMatch(/build metadata .*publish 1\.1\.0$/);
  });

  it.each([
    ['', ''],
    ['missing', undefined],
    ['number', 1],
    ['bad grammar', '1..0'],
    ['bare plus', '1.0+'],
  ])('rejects %s', (_label, bad) => {
    expect(thrown(() => validatePublishVersion(bad)).code).toBe('VERSION_INVALID');
  });
});

describe('validateModuleName (bazel.md §1)', () => {
  it.each(['rules_cc', 'abseil-cpp', 'a', 'zlib.1', 'googleapis-grpc-cc', 'a9', 'a.b-c_d'])('accepts %j', (ok) => {
    validateModuleName(ok);
  });

  it.each(['Rules', '_x', 'x_', '1x', 'a/b', '..', '', 'x-', 'x.', 'rules cc', 'rulés', 'a+b'])('rejects %j', (bad) => {
    const err = thrown(() => validateModuleName(bad));
    expect(err.code).toBe('NAME_INVALID');
    expect(err.message).toContain(JSON.stringify(bad));
    expect(err.message).toMatch(/lower-case letters/);
  });

  it('rejects non-strings', () => {
    expect(thrown(() => validateModuleName(undefined)).code).toBe('NAME_INVALID');
    expect(thrown(() => validateModuleName(['a'])).code).toBe('NAME_INVALID');
  });
});

describe('sortBazelVersions', () => {
  it('sorts ascending without mutating, stable for equal-after-normalisation versions', () => {
    const input = ['1.10', '1.0+b', '1.a', '1.0-rc1', '1.0+a', '1.0', '1.2', '1.0.1', ''];
    expect(sortBazelVersions(input)).toEqual(['1.0-rc1', '1.0+b', '1.0+a', '1.0', '1.0.1', '1.2', '1.10', '1.a', '']);
    expect(input[0]).toBe('1.10');
    expect(thrown(() => sortBazelVersions(['1.0', 'x y'])).code).toBe('VERSION_INVALID');
  });

  // Real metadata.json files from the BCR: their `versions` lists are kept ascending by BCR tooling.
  const root = '/work/shared/fixtures/bcr-sample/modules';
  const modules = readdirSync(root)
    .sort()
    .map((m) => ({
      module: m,
      versions: (JSON.parse(readFileSync(join(root, m, 'metadata.json'), 'utf8')) as { versions: string[] }).versions,
    }));

  it('the fixture set includes prereleases, long lists and release-prefix cases', () => {
    const all = modules.flatMap((m) => m.versions);
    expect(modules.length).toBeGreaterThanOrEqual(10);
    expect(all).toEqual(expect.arrayContaining(['1.0.0-rc.1', '5.0.0-alpha2', '3.0.0.beta7', '0.1.0.bcr.1', '0.7.10']));
  });

  it.each(modules.map((m) => [m.module, m.versions] as const))('reproduces the BCR order of %s', (_module, versions) => {
    expect(sortBazelVersions([...versions].reverse())).toEqual(versions);
    expect(sortBazelVersions(versions)).toEqual(versions);
  });
});
