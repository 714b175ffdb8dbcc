/**
 * Property-based fuzzing of what a MoonBit publish parses: moon.mod.json (JSON mutations, broken
 * bytes), moon.mod (text damage), the checks of checkManifest, and the module zip through the
 * archive gate. Each returns or throws a 4xx LarderError, never anything else, and never hangs; an
 * accepted manifest always gives a one-line index line that parses back with a canonical version.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fuzzParams,
  makeZip,
  mutatedBytes,
  mutatedJsonBytes,
  oddName,
  Outcomes,
  returnsOrRefuses,
  zipVariants,
  type ZipEntry,
} from '../../../test/support/arbitraries.js';
import { canonicalVersion } from './index-line.js';
import { checkManifest, indexLineOf, parseModFile, parseModJson } from './manifest.js';
import { readModuleZip } from './zip.js';

const BASE = {
  name: 'alice/json',
  version: '0.2.1',
  deps: {
    'alice/utf8': '0.2.0',
    'moonbitlang/core': { version: '0.1.0' },
    'bob/git': { git: 'https://example.com/x.git', branch: 'main' },
  },
  readme: 'README.md',
  license: 'Apache-2.0',
  'preferred-target': 'wasm-gc',
  keywords: ['json'],
};
const MOD_TEXT = [
  '// manifest',
  'name = "alice/json"',
  'version = "0.2.1"',
  'deps = {',
  '  "alice/utf8": "0.2.0"',
  '}',
  'preferred-target = "wasm-gc"',
].join('\n');
const LIMITS = { maxEntries: 40, maxUnpackedSize: 256 * 1024, maxManifestSize: 64 * 1024 };

/** Parses and checks; when accepted, the index line is one line of JSON with the same version. */
function check(parse: () => Record<string, unknown>) {
  const checked = checkManifest(parse(), 'moon.mod.json');
  const line = indexLineOf(checked.manifest, 'a'.repeat(64)).toString();
  expect(line).not.toContain('\n');
  const back = JSON.parse(line) as { version: string; checksum: string };
  expect(back.version).toBe(checked.version);
  expect(canonicalVersion(back.version)).toBe(back.version);
  expect(back.checksum).toBe('a'.repeat(64));
  return checked;
}

describe('MoonBit manifests (fuzz)', () => {
  it('accepts the unmutated manifests', () => {
    expect(check(() => parseModJson(Buffer.from(JSON.stringify(BASE)))).registryDeps).toEqual([
      { module: 'alice/utf8', version: '0.2.0' },
      { module: 'moonbitlang/core', version: '0.1.0' },
    ]);
    expect(check(() => parseModFile(Buffer.from(MOD_TEXT))).module.full).toBe('alice/json');
  });

  it('answers every mutated moon.mod.json with a checked manifest or a 4xx', async () => {
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(mutatedJsonBytes(BASE), async (bytes) => {
        seen.record(await returnsOrRefuses(() => check(() => parseModJson(bytes)), 2_000));
      }),
      fuzzParams(600),
    );
    seen.report('moon.mod.json');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(3);
  });

  it('answers every damaged moon.mod with a checked manifest or a 4xx', async () => {
    const lines = MOD_TEXT.split('\n');
    const damaged = fc.oneof(
      mutatedBytes(Buffer.from(MOD_TEXT)),
      fc
        .tuple(fc.nat(), fc.oneof(oddName, fc.constantFrom('= 1', 'x =', '"k" = {', '__proto__ = {"a":1}', 'deps = [', 'name = "a"')))
        .map(([at, line]) => {
          const copy = [...lines];
          copy.splice(at % (copy.length + 1), 0, line);
          return Buffer.from(copy.join('\n'));
        }),
    );
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        seen.record(await returnsOrRefuses(() => check(() => parseModFile(bytes)), 2_000));
      }),
      fuzzParams(400),
    );
    seen.report('moon.mod');
    expect(seen.refusals.size).toBeGreaterThan(1);
  });

  it('answers every hostile module zip with its manifest or a 4xx', async () => {
    const valid: ZipEntry[] = [
      { name: 'moon.mod.json', data: Buffer.from(JSON.stringify(BASE)) },
      { name: 'src/' },
      { name: 'src/lib.mbt', data: Buffer.from('pub fn f() -> Int { 1 }\n') },
    ];
    expect((await readModuleZip(makeZip(valid), LIMITS)).file).toBe('moon.mod.json');
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(zipVariants(valid, 'src'), async (zip) => {
        seen.record(await returnsOrRefuses(() => readModuleZip(zip, LIMITS), 3_000));
      }),
      fuzzParams(300),
    );
    seen.report('module zip');
    expect(seen.refusals.size).toBeGreaterThan(1);
  });
});
