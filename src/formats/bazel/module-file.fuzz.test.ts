/**
 * Property-based fuzzing of the Bazel registry-file parsers: MODULE.bazel (token-level mutations
 * and random text), versions and module names, SRI values and metadata.json with its yank and
 * version edits. Each returns or throws a 4xx LarderError, never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParams, mutatedJsonBytes, mutatedStarlark, Outcomes, returnsOrRefuses } from '../../../test/support/arbitraries.js';
import { parseSri } from '../../core/sri.js';
import { parseMetadata, serializeMetadata, withVersion, withYank } from './metadata.js';
import { readModuleFile, sameModuleFile } from './module-file.js';
import {
  compareBazelVersions,
  normalizeBazelVersion,
  parseBazelVersion,
  sortBazelVersions,
  validateModuleName,
  validatePublishVersion,
} from './version.js';

const MODULE = `"""The fuzzed module."""
VERSION = "1.2.3"

module(
    name = "fuzzed",
    version = VERSION,
    compatibility_level = 1,
    bazel_compatibility = [">=7.2.1"],
)

bazel_dep(name = "platforms", version = "0.0.10")
bazel_dep(name = "rules_cc", version = "0.1.1", dev_dependency = True)  # a comment
ext = use_extension("//:ext.bzl", "ext")
ext.tag(path = r'C:\\x', items = ["a", 'b', 1 + 2])
`;

const versionText = fc.oneof(
  fc.stringMatching(/^[0-9a-zA-Z.+-]{0,24}$/),
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '1.0',
    '1.0.0-rc.1',
    '1..0',
    '.1',
    '1.',
    '1.0.0+build',
    '18446744073709551616',
    '18446744073709551615',
    '1-',
    '-1',
    '1+',
    '01.0',
    '',
  ),
);

describe('MODULE.bazel (fuzz)', () => {
  it('reads every token-mutated or random MODULE.bazel, or refuses it with a 4xx', async () => {
    expect(readModuleFile(MODULE)).toMatchObject({ name: 'fuzzed', version: '1.2.3', compatibilityLevel: 1 });
    const seen = new Outcomes();
    const text = fc.oneof(
      { weight: 5, arbitrary: mutatedStarlark(MODULE) },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
    );
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        const r = await returnsOrRefuses(() => readModuleFile(t));
        seen.record(r);
        if (r.ok) {
          expect(typeof r.value.compatibilityLevel).toBe('number');
          expect(Array.isArray(r.value.deps)).toBe(true);
        }
        expect(sameModuleFile(t, t)).toBe(true);
      }),
      fuzzParams(800),
    );
    seen.report('MODULE.bazel');
    expect(seen.ok).toBeGreaterThan(50);
    expect(seen.refusals.size).toBeGreaterThan(10);
  });
});

describe('Bazel versions, names and SRI values (fuzz)', () => {
  it('parses, compares, sorts and validates any string, or refuses it with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(versionText, versionText, fc.string({ maxLength: 40 }), async (a, b, name) => {
        await returnsOrRefuses(() => parseBazelVersion(a));
        await returnsOrRefuses(() => normalizeBazelVersion(a));
        await returnsOrRefuses(() => validatePublishVersion(a));
        await returnsOrRefuses(() => compareBazelVersions(a, b));
        await returnsOrRefuses(() => sortBazelVersions([a, b, '1.0']));
        await returnsOrRefuses(() => validateModuleName(name));
      }),
      fuzzParams(1000),
    );
  });

  it('parses any SRI-like string or refuses it with a 4xx', async () => {
    const sriText = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('sha256', 'sha384', 'sha512', 'sha1', 'SHA256', ''),
          fc.constantFrom('-', '_', ''),
          fc.base64String({ maxLength: 100 }),
        )
        .map((p) => p.join('')),
      fc.string({ maxLength: 100 }),
    );
    await fc.assert(
      fc.asyncProperty(sriText, async (s) => {
        await returnsOrRefuses(() => parseSri(s));
      }),
      fuzzParams(1000),
    );
  });
});

describe('metadata.json (fuzz)', () => {
  const META = {
    homepage: 'https://example.com',
    maintainers: [{ email: 'a@example.com', github: 'a', github_user_id: 1 }],
    repository: ['github:a/b'],
    versions: ['1.0.0', '1.1.0', '2.0.0-rc1'],
    yanked_versions: { '1.0.0': 'broken' },
    deprecated: 'use other',
  };

  it('reads any mutated metadata.json and yanks, unyanks and adds versions to it, or refuses with a 4xx', async () => {
    const seen = new Outcomes();
    const edit = fc.tuple(
      fc.constantFrom('1.0.0', '1.1.0', '2.0.0-rc1', '3.0.0', '', 'x'),
      fc.option(fc.string({ maxLength: 20 }), { nil: null }),
    );
    await fc.assert(
      fc.asyncProperty(mutatedJsonBytes(META), edit, async (bytes, [version, reason]) => {
        const parsed = await returnsOrRefuses(() => parseMetadata(bytes, 'fuzzed'));
        seen.record(parsed);
        if (!parsed.ok) return;
        const yanked = await returnsOrRefuses(() => serializeMetadata(withYank(parsed.value, 'fuzzed', version, reason)));
        seen.record(yanked);
        await returnsOrRefuses(() => serializeMetadata(withVersion(parsed.value, version)));
      }),
      fuzzParams(1000),
    );
    seen.report('metadata.json');
    expect(seen.ok).toBeGreaterThan(50);
  });
});
