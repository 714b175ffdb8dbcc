/** cargoProxy.searchEntry: what search records for an index file a proxy fetched (pure). */
import { describe, expect, it } from 'vitest';
import { cargoProxy } from './proxy.js';

const entry = (path: string, lines: Array<string | object>) =>
  cargoProxy.searchEntry!(path, Buffer.from(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n'));

const dep = (name: string, extra: object = {}) => ({
  name,
  req: '^1',
  features: [],
  optional: false,
  default_features: true,
  target: null,
  ...extra,
});

describe('cargoProxy.searchEntry', () => {
  it('records the canonical id, the published name, the version cargo add picks and its normal and build dependencies', () => {
    expect(
      entry('se/rd/serde-json', [
        { name: 'Serde-Json', vers: '1.0.0', deps: [dep('itoa')] },
        {
          name: 'serde-json',
          vers: '1.1.0',
          deps: [
            dep('itoa', { kind: 'normal' }),
            dep('ryu', { kind: null }),
            dep('cc', { kind: 'build' }),
            dep('criterion', { kind: 'dev' }),
            dep('core_alias', { package: 'serde-core' }),
          ],
        },
        { name: 'serde-json', vers: '2.0.0-rc.1', deps: [dep('other')] },
        { name: 'serde-json', vers: '1.2.0', deps: [], yanked: true },
      ]),
    ).toEqual({
      package: 'serde_json',
      name: 'serde-json',
      description: null,
      keywords: [],
      latestVersion: '1.1.0',
      dependencies: ['itoa', 'ryu', 'cc', 'serde-core'],
    });
  });

  it('takes the newest pre-release when no release is left, and says null when every version is yanked', () => {
    expect(entry('3/a/abc', [{ name: 'abc', vers: '0.1.0-alpha', deps: [] }])?.latestVersion).toBe('0.1.0-alpha');
    expect(
      entry('3/a/abc', [
        { name: 'abc', vers: '0.1.0', deps: [dep('x')], yanked: true },
        { name: 'abc', vers: '0.2.0', deps: [dep('y')], yanked: true },
      ]),
    ).toEqual({ package: 'abc', name: 'abc', description: null, keywords: [], latestVersion: null, dependencies: [] });
  });

  it('skips broken lines and lines naming another crate; tolerates fields of the wrong type', () => {
    expect(
      entry('1/a', [
        'not json',
        { name: 'b', vers: '9.0.0', deps: [] },
        { name: 'a', vers: '1.0.0', deps: 'nope' },
        { name: 'a', vers: 'not-semver', deps: [] },
        { name: 'a', vers: '0.9.0', deps: [dep('z', { kind: 'Normal', package: 7 }), { req: '^1' }, 5] },
      ]),
    ).toEqual({ package: 'a', name: 'a', description: null, keywords: [], latestVersion: '1.0.0', dependencies: [] });
  });

  it('is null for config.json, paths Cargo never builds, and files with no line of the crate', () => {
    expect(entry('config.json', [{ dl: 'x' }])).toBeNull();
    expect(entry('Se/rd/Serde', [{ name: 'Serde', vers: '1.0.0', deps: [] }])).toBeNull();
    expect(entry('se/rd/serde', [{ name: 'other', vers: '1.0.0', deps: [] }])).toBeNull();
    expect(entry('se/rd/serde', [])).toBeNull();
  });
});
