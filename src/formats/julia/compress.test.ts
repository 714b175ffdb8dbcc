import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parse } from 'smol-toml';
import { thrown } from '../../../test/support/errors.js';
import { compress, compressVersions, loadCompressed } from './compress.js';
import { writeRangeTable } from './registry-toml.js';
import { formatRange, parseVersion } from './versions.js';

const FIXTURE = '/work/shared/fixtures/julia/HolyLabRegistry';
const U = { A: 'f6369f11-7733-5829-9624-2563aa707210', B: 'f2b01f46-fcfa-551c-844a-d8ac1e96c665' };

/** Keys RegistryTools would produce for `subset` within `pool`. */
const keys = (pool: string[], subset: string[]) => compressVersions(pool.map(parseVersion), subset.map(parseVersion)).map(formatRange);

describe('compressVersions (§9)', () => {
  it.each([
    [['0.1.0', '0.2.0'], ['0.1.0', '0.2.0'], ['0']],
    [['0.1.0', '0.2.0', '1.0.0'], ['0.1.0', '0.2.0'], ['0']],
    [['0.1.0', '0.2.0', '0.3.0'], ['0.1.0', '0.2.0'], ['0-0.2']],
    [['0.1.0', '0.2.0', '0.3.0'], ['0.2.0', '0.3.0'], ['0.2-0']],
    [['0.1.0', '1.0.0'], ['0.1.0', '1.0.0'], ['0-1']],
    [
      ['0.1.0', '0.2.0', '0.3.0', '1.0.0'],
      ['0.1.0', '0.2.0', '1.0.0'],
      ['0-0.2', '1'],
    ],
    [['0.1.0', '0.1.1', '0.1.2'], ['0.1.1'], ['0.1.1']],
    [
      ['0.1.0', '0.1.1', '0.1.2'],
      ['0.1.0', '0.1.2'],
      ['0-0.1.0', '0.1.2-0'],
    ],
    [['1.0.0', '1.0.1', '1.1.0', '2.0.0'], ['1.0.1', '1.1.0', '2.0.0'], ['1.0.1-2']],
    [['1.0.0-rc1', '1.0.0+b', '1.1.0'], ['1.0.0-rc1', '1.0.0+b'], ['1.0']],
  ])('pool %j, subset %j → %j', (pool, subset, expected) => {
    expect(keys(pool, subset)).toEqual(expected);
  });

  it('treats versions differing only in prerelease/build as one (as RegistryTools does)', () => {
    expect(keys(['1.0.0-rc1', '1.0.0', '1.1.0'], ['1.0.0'])).toEqual(['1.0']);
  });
});

describe('loadCompressed (§9 Load)', () => {
  it('expands ranges over the pool, accepting "a - b" keys', () => {
    const m = loadCompressed({ '0': { A: U.A }, '0.2 - 0': { B: U.B } }, ['0.2.0', '0.1.0', '1.0.0']);
    expect([...m]).toEqual([
      ['0.1.0', { A: U.A }],
      ['0.2.0', { A: U.A, B: U.B }],
    ]);
  });

  it('reports overlapping ranges with both keys', () => {
    const err = thrown(() => loadCompressed({ '0': { A: U.A }, '0.2-0': { A: U.A } }, ['0.1.0', '0.2.0']));
    expect(err.code).toBe('METADATA_INVALID');
    expect(err.message).toMatch(/Overlapping ranges for A: version 0.2.0 .*"0".*"0.2-0"/);
  });

  it('rejects a bad key', () => {
    expect(thrown(() => loadCompressed({ '1.0.0-rc-1': {} }, ['1.0.0'])).code).toBe('VERSION_INVALID');
  });
});

describe('compress (§9 Compress)', () => {
  it('groups by (name, value), shares tables and strips spaces around "-" in values', () => {
    const per = new Map<string, Record<string, unknown>>([
      ['0.1.0', { A: U.A, julia: '0.7 - 1' }],
      ['0.2.0', { A: U.A, B: U.B, julia: '0.7-1' }],
    ]);
    expect(compress(per, ['0.1.0', '0.2.0'])).toEqual({ '0': { A: U.A, julia: '0.7-1' }, '0.2-0': { B: U.B } });
  });

  it('refuses data for a version that is not in the pool', () => {
    const err = thrown(() => compress(new Map([['0.3.0', { A: U.A }]]), ['0.1.0']));
    expect(err.message).toContain('0.3.0');
  });

  // Registering: load with the old pool, add the new version's data, save with the new pool.
  const register = (file: Record<string, Record<string, unknown>>, old: string[], v: string, data: Record<string, unknown>) => {
    const per = loadCompressed(file, old);
    per.set(v, data);
    return compress(per, [...old, v]);
  };

  it('adding 1.0.0 without the dep keeps key "0"', () => {
    expect(register({ '0': { A: U.A } }, ['0.1.0', '0.2.0'], '1.0.0', {})).toEqual({ '0': { A: U.A } });
  });

  it('adding 0.3.0 without the dep rewrites "0" to "0-0.2"', () => {
    expect(register({ '0': { A: U.A } }, ['0.1.0', '0.2.0'], '0.3.0', {})).toEqual({ '0-0.2': { A: U.A } });
  });

  it('adding 1.0.0 with the dep merges into "0-1"', () => {
    expect(register({ '0': { A: U.A } }, ['0.1.0', '0.2.0'], '1.0.0', { A: U.A })).toEqual({ '0-1': { A: U.A } });
  });

  it('adding 0.2.0 to A/Autosampler/Compat.toml rewrites keys like RegistryTools (hand-computed)', () => {
    const file = parse(readFileSync(`${FIXTURE}/A/Autosampler/Compat.toml`, 'utf8')) as Record<string, Record<string, unknown>>;
    const old = Object.keys(parse(readFileSync(`${FIXTURE}/A/Autosampler/Versions.toml`, 'utf8')));
    expect(old).toEqual(['0.1.1', '0.1.2', '0.1.3', '0.1.4']);
    const out = writeRangeTable(register(file, old, '0.2.0', { julia: '1', DataFrames: '1', CSV: '0.10' }));
    expect(out).toBe(
      [
        '[0]',
        'julia = "1"',
        '',
        '["0-0.1.1"]',
        'ImagineInterface = "0.0.0-0.1"',
        '',
        '["0.1.2-0"]',
        'DataFrames = "1"',
        '',
        '["0.1.2-0.1"]',
        'ImagineFormat = "1"',
        'ImagineInterface = "0.1"',
        '',
        '["0.1.2-0.1.3"]',
        'CSV = "0.8"',
        '',
        '["0.1.4-0.1"]',
        'CSV = ["0.8", "0.10"]',
        '',
        '["0.2-0"]',
        'CSV = "0.10"',
        '',
      ].join('\n'),
    );
  });
});
