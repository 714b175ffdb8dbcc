/**
 * Property-based fuzzing of what a Julia registration reads: the package tarball (tar and tar.gz
 * with hostile entries, corrupted headers, huge declared sizes), Project.toml (structural and
 * textual mutations) and version/compat parsing. Each returns or throws a 4xx LarderError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixTarChecksum, fuzzParams, gz, mutatedToml, Outcomes, returnsOrRefuses, tarVariants } from '../../../test/support/arbitraries.js';
import { tarball, type TarEntry } from '../../../test/support/archives.js';
import { readProject } from './register.js';
import { treeFromTarball } from './tarball.js';
import { formatRange, parseBound, parseRange, parseVersion, semverToRegistry } from './versions.js';

const LIMITS = { maxUnpackedSize: 256 * 1024, maxEntries: 40 };
const PROJECT = {
  name: 'Fuzzed',
  uuid: '11111111-2222-4333-8444-555555555555',
  version: '1.2.3',
  authors: ['A <a@example.com>'],
  deps: { JSON: '682c06a0-de6a-54ab-a142-c8b1cf79cde6', LinearAlgebra: '37e2e46d-f89d-539d-b4ee-838fcccc9c8e' },
  weakdeps: { Plots: '91a5bcdd-55d7-5caf-9e0b-520d859cae80' },
  compat: { julia: '1.6', JSON: '0.21, 1', Plots: '1' },
  extras: { Test: '8dfed614-e22c-5e08-85e1-65c5234f0b40' },
};
const ENTRIES: TarEntry[] = [
  { name: 'Project.toml', body: 'name = "Fuzzed"\nuuid = "11111111-2222-4333-8444-555555555555"\nversion = "1.2.3"\n' },
  { name: 'src/', type: 'directory' },
  { name: 'src/Fuzzed.jl', body: 'module Fuzzed end\n' },
  { name: 'bin/run', body: '#!/bin/sh\n', mode: 0o755 },
  { name: 'link', type: 'symlink', linkname: 'src/Fuzzed.jl' },
];

describe('Julia package tarball (fuzz)', () => {
  it('refuses a directory entry that declares content (the registration hung)', async () => {
    const t = await tarball(ENTRIES);
    const dir = 512 + 512; // src/ follows Project.toml's header and one block of content
    expect(t.subarray(dir, dir + 4).toString()).toBe('src/');
    t.write('00000000005\0', dir + 124, 'latin1');
    fixTarChecksum(t, dir);
    const r = await returnsOrRefuses(() => treeFromTarball(gz(t), LIMITS), 3_000);
    expect(r.ok ? 'accepted' : r.error.message).toMatch(/"src\/" is a directory that claims to have content/);
  });

  it('answers every hostile tar and tar.gz with a tree or a 4xx LarderError', async () => {
    const base = await tarball(ENTRIES);
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(tarVariants(base, ENTRIES, 'src'), fc.boolean(), async (make, gzipped) => {
        const t = await make();
        const r = await returnsOrRefuses(() => treeFromTarball(gzipped ? gz(t) : t, LIMITS));
        seen.record(r);
        if (r.ok) for (const [path] of r.value) expect(path.split('/')).not.toContain('..');
      }),
      fuzzParams(400),
    );
    seen.report('julia tarball');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(8);
  });
});

describe('Project.toml and compat (fuzz)', () => {
  it('reads every mutated Project.toml or refuses it with a 4xx', async () => {
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(mutatedToml(PROJECT), async (text) => {
        const tree = new Map([['Project.toml', { kind: 'file' as const, data: Buffer.from(text) }]]);
        const r = await returnsOrRefuses(() => readProject(tree));
        seen.record(r);
        // What registration does next with an accepted project: convert every compat entry.
        if (r.ok) for (const spec of Object.values(r.value.compat)) await returnsOrRefuses(() => semverToRegistry(spec));
      }),
      fuzzParams(800),
    );
    seen.report('Project.toml');
    expect(seen.ok).toBeGreaterThan(20);
    expect(seen.refusals.size).toBeGreaterThan(5);
  });

  it('parses any version, bound, range or compat string, or refuses it with a 4xx', async () => {
    const piece = fc.oneof(
      fc.stringMatching(/^[v^~=<>≥≤ ,.*0-9-]{0,16}$/),
      fc.constantFrom(
        '1.2.3-rc.1+b',
        '99999999999999999999',
        '1.2.3.4',
        '0.7 - 1.3',
        '^0.0',
        '~0',
        '>= 1, < 0.5',
        '1 - 0',
        '*',
        '-',
        ' - ',
        '',
        ',',
        'v',
        '1e3',
        '0x10',
      ),
      fc.string({ maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(piece, async (s) => {
        await returnsOrRefuses(() => parseVersion(s));
        await returnsOrRefuses(() => parseBound(s));
        const r = await returnsOrRefuses(() => parseRange(s));
        if (r.ok) formatRange(r.value);
        await returnsOrRefuses(() => semverToRegistry(s));
      }),
      fuzzParams(1500),
    );
  });
});
