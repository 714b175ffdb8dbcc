import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parse } from 'smol-toml';
import { thrown } from '../../../test/support/errors.js';
import { compress, loadCompressed } from './compress.js';
import { tomlKey, writePackageToml, writeRangeTable, writeRegistryToml, writeVersionsToml } from './registry-toml.js';

const FIXTURE = '/work/shared/fixtures/julia/HolyLabRegistry';
const SHA = '11820aa9c229fd3833d4bd69e5e75ef4e7273bf1';
type Tables = Record<string, Record<string, unknown>>;

describe('TOML printing rules (§7.6)', () => {
  it('quotes keys unless they are only A-Za-z0-9_-', () => {
    expect(['0', '1', '0-1', 'a_B-9', '0.5-0', '1.2.3', '', 'a b', 'é'].map(tomlKey)).toEqual([
      '0',
      '1',
      '0-1',
      'a_B-9',
      '"0.5-0"',
      '"1.2.3"',
      '""',
      '"a b"',
      '"é"',
    ]);
  });

  it('writes range tables sorted by plain string order with one blank line between tables', () => {
    const out = writeRangeTable({
      '1': { b: 'x' },
      '0.2-1': { Zed: '1', julia: '1.6.0-1', CSV: ['0.8', '0.10'] },
      '0-0.1': { A: 'y' },
    });
    expect(out).toBe('["0-0.1"]\nA = "y"\n\n["0.2-1"]\nCSV = ["0.8", "0.10"]\nZed = "1"\njulia = "1.6.0-1"\n\n[1]\nb = "x"\n');
  });

  it('writes an empty table set as an empty file, as TOML.print does for an empty Dict', () => {
    // RegistryTools always writes Deps.toml; with no deps TOML.print emits nothing (0 bytes),
    // exactly like the fixture's C/CachedCalls/Deps.toml.
    expect(writeRangeTable({})).toBe('');
    expect(statSync(`${FIXTURE}/C/CachedCalls/Deps.toml`).size).toBe(0);
  });

  it('escapes strings like Julia', () => {
    expect(writeRangeTable({ 'a"b': { k: 'q"\\\n\u0001\u007f' } })).toBe('["a\\"b"]\nk = "q\\"\\\\\\n\\u0001\\u007f"\n');
  });

  it('rejects values that are not strings or string arrays', () => {
    expect(thrown(() => writeRangeTable({ '0': { A: 1 } })).code).toBe('DEPENDENCY_INVALID');
    expect(thrown(() => writeRangeTable({ '0': 'x' } as unknown as Tables)).code).toBe('METADATA_INVALID');
  });

  it('writes Versions.toml in version order with yanked last', () => {
    const out = writeVersionsToml([
      { version: '0.10.0', treeSha1: SHA },
      { version: '0.9.0', treeSha1: SHA, yanked: true },
      { version: '0.9.0-rc1', treeSha1: SHA, yanked: false },
    ]);
    expect(out).toBe(
      `["0.9.0-rc1"]\ngit-tree-sha1 = "${SHA}"\n\n["0.9.0"]\ngit-tree-sha1 = "${SHA}"\nyanked = true\n\n["0.10.0"]\ngit-tree-sha1 = "${SHA}"\n`,
    );
  });

  it('rejects bad tree hashes and duplicate versions in Versions.toml', () => {
    expect(thrown(() => writeVersionsToml([{ version: '1.0.0', treeSha1: SHA.toUpperCase() }])).code).toBe('METADATA_INVALID');
    expect(
      thrown(() =>
        writeVersionsToml([
          { version: '1.0.0', treeSha1: SHA },
          { version: '1.0', treeSha1: SHA },
        ]),
      ).code,
    ).toBe('VERSION_INVALID');
    expect(thrown(() => writeVersionsToml([{ version: 'x', treeSha1: SHA }])).code).toBe('VERSION_INVALID');
  });

  it('writes Package.toml as name, uuid, repo, subdir', () => {
    expect(
      writePackageToml({ subdir: 'lib/Foo', repo: 'https://x/Foo.jl.git', uuid: '7876af07-990d-54b4-ab0e-23690620f79a', name: 'Foo' }),
    ).toBe('name = "Foo"\nuuid = "7876af07-990d-54b4-ab0e-23690620f79a"\nrepo = "https://x/Foo.jl.git"\nsubdir = "lib/Foo"\n');
  });

  it('writes Registry.toml with single-line description, sorted extras and UUID-sorted packages', () => {
    const out = writeRegistryToml({
      name: 'R',
      uuid: 'c72e0888-c1c3-11e8-0741-c1bd6f46e678',
      description: 'one line',
      extra: { zz: 1, aa: ['x'] },
      packages: [
        { uuid: '7876af07-990d-54b4-ab0e-23690620f79a', name: 'Example', path: 'E/Example' },
        { uuid: '03446670-6174-4c65-a0cf-8126b5696439', name: 'SupraCubicNumbers', path: 'S/SupraCubicNumbers' },
      ],
    });
    expect(out).toBe(
      [
        'name = "R"',
        'uuid = "c72e0888-c1c3-11e8-0741-c1bd6f46e678"',
        'description = "one line"',
        'aa = ["x"]',
        'zz = 1',
        '',
        '[packages]',
        '03446670-6174-4c65-a0cf-8126b5696439 = { name = "SupraCubicNumbers", path = "S/SupraCubicNumbers" }',
        '7876af07-990d-54b4-ab0e-23690620f79a = { name = "Example", path = "E/Example" }',
        '',
      ].join('\n'),
    );
  });

  it('rejects bad package UUIDs and clashing extras in Registry.toml', () => {
    const base = { name: 'R', uuid: 'c72e0888-c1c3-11e8-0741-c1bd6f46e678', packages: [] };
    expect(thrown(() => writeRegistryToml({ ...base, packages: [{ uuid: 'nope', name: 'A', path: 'A/A' }] })).code).toBe(
      'METADATA_INVALID',
    );
    expect(thrown(() => writeRegistryToml({ ...base, extra: { name: 'x' } })).code).toBe('METADATA_INVALID');
  });
});

/**
 * Fixture files RegistryTools would not reproduce, with the reason. Each is checked to be
 * semantically unchanged by the rewrite; any other mismatch fails the test.
 */
const NOT_ROUND_TRIPPING: Record<string, string> = {
  'C/CoordinateSplittingPTrees/Deps.toml': 'hand-written: key "0.0-0.1" over pool [0.0.1] and unsorted names → [0], sorted',
  'C/CoordinateSplittingPTrees/Compat.toml': 'key "0.1" covers no registered version (pool [0.0.1]) → dropped, empty file',
  'I/ISVD/Deps.toml': 'hand-written key "0.0-0.1" over pool [0.0.1] → [0]',
  'I/ISVD/Compat.toml': 'key "0.1" covers no registered version (pool [0.0.1]) → dropped, empty file',
  'I/Imagine/Deps.toml': 'hand-written key "0.0-0.2" over pool [0.1.0, 0.1.1] → [0]',
  'O/OptimizeIVQ/Deps.toml': 'hand-written: key "0.0-0.1" over pool [0.0.1] and unsorted names → [0], sorted',
  'R/RoiTool/Deps.toml': 'hand-written key "0.1" over pool [0.1.0] → [0]',
  'M/MappedIndexArrays/Package.toml': 'hand-written: extra `authors` key, alphabetical key order',
  'Q/QuadDIRECT/Package.toml': 'hand-written: extra `authors` key',
  'R/RoiTool/Package.toml': 'hand-written: extra `authors` key, alphabetical key order',
  'S/StimulusNavigator/Package.toml': 'hand-written: extra `authors` key, alphabetical key order',
};
/** Range files whose only difference is RegistryTools-era `a - b` spacing in values. */
const SPACED_FILES = 11;

const stripSpaces = (s: string) => s.replace(/\s+-\s+/g, '-');

describe('golden: HolyLabRegistry round trip', () => {
  const dirs = readdirSync(FIXTURE)
    .filter((l) => /^[A-Z]$/.test(l))
    .flatMap((l) => readdirSync(`${FIXTURE}/${l}`).map((p) => `${l}/${p}`));
  const read = (rel: string) => readFileSync(`${FIXTURE}/${rel}`, 'utf8');
  const results = { exact: 0, spaced: [] as string[], mismatched: [] as string[] };

  function check(rel: string, out: string, sameMeaning: () => void) {
    const orig = read(rel);
    if (out === orig) results.exact++;
    else if (stripSpaces(orig) === out) results.spaced.push(rel);
    else {
      results.mismatched.push(rel);
      expect(NOT_ROUND_TRIPPING[rel], `${rel} does not round-trip:\n${orig}\n---\n${out}`).toBeDefined();
      sameMeaning();
    }
  }

  it('covers every package directory', () => {
    expect(dirs.length).toBe(76);
  });

  it('re-writes every Versions.toml, Package.toml and range file', () => {
    for (const dir of dirs) {
      const versions = parse(read(`${dir}/Versions.toml`)) as Record<string, { 'git-tree-sha1': string; yanked?: boolean }>;
      const pool = Object.keys(versions);
      check(
        `${dir}/Versions.toml`,
        writeVersionsToml(pool.map((v) => ({ version: v, treeSha1: versions[v]['git-tree-sha1'], yanked: versions[v].yanked }))),
        () => {},
      );

      const pkg = parse(read(`${dir}/Package.toml`)) as { name: string; uuid: string; repo: string; subdir?: string };
      check(`${dir}/Package.toml`, writePackageToml(pkg), () => {
        expect(parse(writePackageToml(pkg))).toEqual({ name: pkg.name, uuid: pkg.uuid, repo: pkg.repo });
      });

      for (const f of ['Deps', 'Compat', 'WeakDeps', 'WeakCompat']) {
        const rel = `${dir}/${f}.toml`;
        if (!existsSync(`${FIXTURE}/${rel}`)) continue;
        const table = parse(read(rel)) as Tables;
        const out = writeRangeTable(compress(loadCompressed(table, pool), pool));
        check(rel, out, () => {
          const norm = (m: Map<string, Record<string, unknown>>) => JSON.parse(stripSpaces(JSON.stringify([...m])));
          expect(norm(loadCompressed(parse(out) as Tables, pool))).toEqual(norm(loadCompressed(table, pool)));
        });
        // Our output is a fixed point of load → compress → write.
        expect(writeRangeTable(compress(loadCompressed(parse(out) as Tables, pool), pool))).toBe(out);
      }
    }
    expect(results.mismatched.sort()).toEqual(Object.keys(NOT_ROUND_TRIPPING).sort());
    expect(results.spaced.length).toBe(SPACED_FILES);
    expect(results.spaced.every((rel) => /(Compat|WeakCompat)\.toml$/.test(rel))).toBe(true);
    expect(results.exact).toBe(76 * 4 + 10 - 11 - SPACED_FILES); // 314 files in all
  });

  it('re-writes Registry.toml byte for byte', () => {
    const reg = parse(read('Registry.toml')) as Record<string, unknown> & {
      name: string;
      uuid: string;
      repo?: string;
      description?: string;
      packages: Record<string, { name: string; path: string }>;
    };
    const { name, uuid, repo, description, packages, ...extra } = reg;
    const out = writeRegistryToml({
      name,
      uuid,
      repo,
      description,
      extra,
      packages: Object.entries(packages).map(([u, p]) => ({ uuid: u, name: p.name, path: p.path })),
    });
    expect(out).toBe(read('Registry.toml'));
  });
});
