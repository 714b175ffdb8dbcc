import { describe, it, expect } from 'vitest';
import { LarderError } from '../../core/errors.js';
import { formatPubtime, indexLineFromNewCrate, serializeIndexLine, validateIndexLine, withYanked, type IndexLine } from './index-line.js';
import { parseNewCrate } from './new-crate.js';

const CKSUM = 'a'.repeat(64);
const OWN_INDEX = ['sparse+https://larder.test/cargo/index/', 'https://larder.test/cargo/index/'];
const CRATES_IO = 'https://github.com/rust-lang/crates.io-index';

/** A line with every field of cargo.md §5 set (as a mirrored crates.io line may have them). */
function fullLine(): Record<string, unknown> {
  return {
    name: 'abc',
    vers: '0.2.0',
    deps: [
      {
        name: 'hr',
        req: '^0.1',
        features: ['extra'],
        optional: true,
        default_features: false,
        target: null,
        kind: 'normal',
        registry: null,
        package: 'hello_reg',
      },
      {
        name: 'hello_reg',
        req: '^0.1.0',
        features: [],
        optional: false,
        default_features: true,
        target: 'cfg(unix)',
        kind: 'dev',
        registry: null,
        package: null,
      },
      {
        name: 'cc',
        req: '1',
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: 'build',
        registry: CRATES_IO,
        package: null,
        public: false,
        artifact: ['bin'],
        bindep_target: 'x86_64-unknown-linux-gnu',
        lib: true,
      },
    ],
    cksum: CKSUM,
    features: { default: [] },
    yanked: false,
    links: 'abcnative',
    features2: { fancy: ['dep:hr', 'hr?/greet'] },
    v: 2,
    rust_version: '1.70',
    pubtime: '2026-11-21T04:59:45Z',
  };
}

function withField(key: string, value: unknown): Record<string, unknown> {
  const line = fullLine();
  if (value === ABSENT) delete line[key];
  else line[key] = value;
  return line;
}

function withDepField(key: string, value: unknown): Record<string, unknown> {
  const line = fullLine();
  const dep = (line.deps as Record<string, unknown>[])[0];
  if (value === ABSENT) delete dep[key];
  else dep[key] = value;
  return line;
}

const ABSENT = Symbol('absent');

function rejection(line: unknown): LarderError {
  try {
    validateIndexLine(line);
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    const e = err as LarderError;
    expect(e.code).toBe('METADATA_INVALID');
    expect(e.message).toMatch(/^the index line would be unreadable by Cargo: /);
    return e;
  }
  throw new Error(`expected ${JSON.stringify(line)} to be rejected`);
}

describe('validateIndexLine: the line as a whole', () => {
  it('accepts a line with every field', () => {
    expect(() => validateIndexLine(fullLine())).not.toThrow();
  });

  it('accepts the minimal line (optional fields absent)', () => {
    expect(() => validateIndexLine({ name: 'a', vers: '1.0.0', deps: [], cksum: CKSUM, features: {} })).not.toThrow();
  });

  it.each([null, undefined, 'line', 42, true])('rejects %j', (line) => {
    rejection(line);
  });
  it('rejects an array', () => {
    rejection([fullLine()]);
  });
});

type Case = [string, unknown];

/** For each top-level field of §5.1: values Cargo parses and values that make it drop the version. */
const FIELDS: Array<{ field: string; valid: Case[]; invalid: Array<[string, unknown, RegExp?]> }> = [
  {
    field: 'name',
    valid: [
      ['case preserved', 'Hello_Reg'],
      ['hyphen', 'a-b'],
    ],
    invalid: [
      ['absent', ABSENT, /name/],
      ['empty', '', /name/],
      ['a number', 7, /name/],
      ['null', null, /name/],
    ],
  },
  {
    field: 'vers',
    valid: [
      ['plain', '1.0.0'],
      ['pre-release', '1.0.0-beta.1'],
      ['build metadata', '1.0.0+build.5'],
    ],
    invalid: [
      ['absent', ABSENT, /vers/],
      ['empty', '', /vers/],
      ['a number', 1, /vers/],
      ['two parts', '1.0', /vers/],
      ['a leading v', 'v1.0.0', /vers/],
      ['leading zeros', '01.0.0', /vers/],
    ],
  },
  {
    field: 'deps',
    valid: [['empty list', []]],
    invalid: [
      ['absent', ABSENT, /deps is missing/],
      ['null', null, /deps/],
      ['an object', {}, /deps/],
      ['a string', 'serde', /deps/],
      ['a list of non-objects', [1], /not an object/],
    ],
  },
  {
    field: 'cksum',
    valid: [['64 lower-case hex', '0123456789abcdef'.repeat(4)]],
    invalid: [
      ['absent', ABSENT, /cksum/],
      ['upper-case hex', 'A'.repeat(64), /cksum/],
      ['63 characters', 'a'.repeat(63), /cksum/],
      ['65 characters', 'a'.repeat(65), /cksum/],
      ['prefixed', `sha256:${'a'.repeat(64)}`, /cksum/],
      ['non-hex', 'g'.repeat(64), /cksum/],
    ],
  },
  {
    field: 'features',
    valid: [
      ['empty', {}],
      ['with dep: and ?/ values', { default: ['std'], std: [], fancy: ['dep:hr', 'hr?/greet'] }],
    ],
    invalid: [
      ['absent (old Cargo needs it)', ABSENT, /features must map/],
      ['null', null, /features/],
      ['a list', ['std'], /features/],
      ['a string value', { default: 'std' }, /features/],
      ['a non-string member', { default: [1] }, /features/],
    ],
  },
  {
    field: 'features2',
    valid: [
      ['absent', ABSENT],
      ['a feature map', { fancy: ['dep:hr'] }],
    ],
    invalid: [
      ['a list', ['dep:hr'], /features2/],
      ['a string value', { fancy: 'dep:hr' }, /features2/],
    ],
  },
  {
    field: 'yanked',
    valid: [
      ['absent', ABSENT],
      ['true', true],
      ['false', false],
    ],
    invalid: [
      ['a string', 'false', /yanked/],
      ['a number', 0, /yanked/],
    ],
  },
  {
    field: 'links',
    valid: [
      ['absent', ABSENT],
      ['null', null],
      ['a string', 'z'],
    ],
    invalid: [
      ['a number', 1, /links/],
      ['a list', ['z'], /links/],
    ],
  },
  {
    field: 'v',
    valid: [
      ['absent', ABSENT],
      ['1', 1],
      ['2', 2],
    ],
    invalid: [
      ['3 (unstable bindeps)', 3, /v 3 is higher/],
      ['a string', '2', /v "2"/],
      ['99', 99, /v 99/],
    ],
  },
  {
    field: 'rust_version',
    valid: [
      ['absent', ABSENT],
      ['null', null],
      ['major.minor', '1.70'],
      ['major.minor.patch', '1.70.0'],
      ['major', '1'],
    ],
    invalid: [
      ['a number', 1.7, /rust_version/],
      ['an operator', '^1.70', /rust_version/],
      ['words', 'stable', /rust_version/],
      ['a pre-release', '1.70.0-beta', /rust_version/],
    ],
  },
  {
    field: 'pubtime',
    valid: [
      ['absent', ABSENT],
      ['strict UTC', '2025-01-12T09:30:12Z'],
      ['end of a leap day', '2024-02-29T23:59:59Z'],
      ['epoch', '1970-01-01T00:00:00Z'],
    ],
    invalid: [
      ['an unpadded month', '2025-1-12T09:30:12Z'],
      ['an unpadded day', '2025-01-2T09:30:12Z'],
      ['an unpadded hour', '2025-01-12T9:30:12Z'],
      ['an offset instead of Z', '2025-01-12T09:30:12+00:00'],
      ['milliseconds', '2025-01-12T09:30:12.123Z'],
      ['zero milliseconds', '2025-01-12T09:30:12.000Z'],
      ['a space separator', '2025-01-12 09:30:12Z'],
      ['a lower-case z', '2025-01-12T09:30:12z'],
      ['no zone', '2025-01-12T09:30:12'],
      ['no seconds', '2025-01-12T09:30Z'],
      ['a date only', '2025-01-12'],
      ['month 13', '2025-13-01T00:00:00Z'],
      ['day 32', '2025-01-32T00:00:00Z'],
      ['February 30', '2025-02-30T00:00:00Z'],
      ['February 29 of a common year', '2025-02-29T00:00:00Z'],
      ['hour 24', '2025-01-12T24:00:00Z'],
      ['minute 60', '2025-01-12T09:60:00Z'],
      ['a leap second', '2016-12-31T23:59:60Z'],
      ['unix seconds', 1736674212],
      ['an HTTP date', 'Sun, 12 Jan 2025 09:30:12 GMT'],
    ].map(([what, v]) => [what, v, /pubtime/] as [string, unknown, RegExp]),
  },
];

for (const { field, valid, invalid } of FIELDS) {
  describe(`validateIndexLine: ${field}`, () => {
    it.each(valid)('accepts %s', (_what, value) => {
      expect(() => validateIndexLine(withField(field, value))).not.toThrow();
    });
    it.each(invalid)('rejects %s', (_what, value, detail) => {
      const err = rejection(withField(field, value));
      if (detail) expect(err.message).toMatch(detail);
    });
  });
}

/** The fields of a dependency object (§5.2). */
const DEP_FIELDS: Array<{ field: string; valid: Case[]; invalid: Array<[string, unknown, RegExp]> }> = [
  {
    field: 'name',
    valid: [
      ['an alias', 'hr'],
      ['case preserved', 'Serde_Json'],
    ],
    invalid: [
      ['absent', ABSENT, /dependency has no name/],
      ['empty', '', /no name/],
      ['a number', 1, /no name/],
    ],
  },
  {
    field: 'req',
    valid: [
      ['caret', '^0.1'],
      ['a range', '>=1, <2'],
      ['any', '*'],
      ['exact with pre-release', '=1.0.0-beta.1'],
    ],
    invalid: [
      ['absent', ABSENT, /unparsable req/],
      ['empty', '', /unparsable req/],
      ['words', 'latest', /unparsable req "latest"/],
      ['no comma', '>=1 <2', /unparsable req/],
      ['a number', 1, /unparsable req/],
    ],
  },
  {
    field: 'features',
    valid: [
      ['absent (≥ 1.84 default)', ABSENT],
      ['a list', ['a', 'b']],
    ],
    invalid: [
      ['a string', 'a', /"hr" features/],
      ['non-strings', [1], /features/],
    ],
  },
  {
    field: 'optional',
    valid: [
      ['absent', ABSENT],
      ['false', false],
    ],
    invalid: [['a string', 'true', /"hr" optional/]],
  },
  {
    field: 'default_features',
    valid: [
      ['absent', ABSENT],
      ['true', true],
    ],
    invalid: [['a number', 1, /default_features/]],
  },
  {
    field: 'target',
    valid: [
      ['absent', ABSENT],
      ['null', null],
      ['a cfg', 'cfg(windows)'],
      ['a triple', 'x86_64-unknown-linux-gnu'],
    ],
    invalid: [
      ['a number', 1, /target/],
      ['a list', ['cfg(unix)'], /target/],
    ],
  },
  {
    field: 'kind',
    valid: [
      ['absent', ABSENT],
      ['null', null],
      ['normal', 'normal'],
      ['dev', 'dev'],
      ['build', 'build'],
    ],
    invalid: [
      ['Normal', 'Normal', /kind "Normal"/],
      ['DEV', 'DEV', /kind/],
      ['devel', 'devel', /kind/],
      ['empty', '', /kind/],
      ['a number', 1, /kind/],
    ],
  },
  {
    field: 'registry',
    valid: [
      ['absent', ABSENT],
      ['null', null],
      ['crates.io', CRATES_IO],
      ['a sparse URL', 'sparse+https://other.example/index/'],
    ],
    invalid: [
      ['a number', 1, /registry/],
      ['an object', {}, /registry/],
    ],
  },
  {
    field: 'package',
    valid: [
      ['absent', ABSENT],
      ['null', null],
      ['the real name', 'hello_reg'],
    ],
    invalid: [
      ['a number', 1, /package/],
      ['a boolean', true, /package/],
    ],
  },
  {
    field: 'public',
    valid: [
      ['absent', ABSENT],
      ['true', true],
      ['false', false],
    ],
    invalid: [['a string', 'yes', /public/]],
  },
  {
    field: 'artifact',
    valid: [
      ['absent', ABSENT],
      ['a list', ['bin', 'cdylib']],
    ],
    invalid: [
      ['a string', 'bin', /artifact/],
      ['non-strings', [1], /artifact/],
    ],
  },
  {
    field: 'bindep_target',
    valid: [
      ['absent', ABSENT],
      ['a triple', 'wasm32-unknown-unknown'],
    ],
    invalid: [
      ['a number', 1, /bindep_target/],
      ['a list', ['x'], /bindep_target/],
    ],
  },
  {
    field: 'lib',
    valid: [
      ['absent', ABSENT],
      ['true', true],
      ['false', false],
    ],
    invalid: [
      ['a string', 'yes', /lib/],
      ['a number', 1, /lib/],
    ],
  },
];

for (const { field, valid, invalid } of DEP_FIELDS) {
  describe(`validateIndexLine: deps[].${field}`, () => {
    it.each(valid)('accepts %s', (_what, value) => {
      expect(() => validateIndexLine(withDepField(field, value))).not.toThrow();
    });
    it.each(invalid)('rejects %s', (_what, value, detail) => {
      expect(rejection(withDepField(field, value)).message).toMatch(detail);
    });
  });
}

describe('formatPubtime', () => {
  it('writes exactly YYYY-MM-DDTHH:MM:SSZ, zero-padded, UTC, without fractions', () => {
    expect(formatPubtime(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatPubtime(Date.UTC(2025, 0, 2, 3, 4, 5))).toBe('2025-01-02T03:04:05Z');
    expect(formatPubtime(Date.UTC(2025, 0, 12, 9, 30, 12, 999))).toBe('2025-01-12T09:30:12Z');
    expect(formatPubtime(Date.UTC(2025, 11, 31, 23, 59, 59, 1))).toBe('2025-12-31T23:59:59Z');
    for (let i = 0; i < 200; i++) {
      const s = formatPubtime(Math.floor(Math.random() * 4e12));
      expect(s).toHaveLength(20);
      expect(() => validateIndexLine({ ...fullLine(), pubtime: s })).not.toThrow();
    }
  });
});

/** NewCrate JSON with every field `cargo publish` sends, for the builder tests. */
function newCrate(overrides: Record<string, unknown> = {}) {
  return parseNewCrate(
    Buffer.from(
      JSON.stringify({
        name: 'Abc_Def',
        vers: '0.2.0+build.1',
        deps: [
          {
            optional: true,
            default_features: false,
            name: 'hello_reg',
            features: ['extra'],
            version_req: '^0.1',
            target: null,
            kind: 'normal',
            explicit_name_in_toml: 'hr',
          },
          {
            optional: false,
            default_features: true,
            name: 'hello_reg',
            features: [],
            version_req: '^0.1.0',
            target: 'cfg(unix)',
            kind: 'dev',
          },
          {
            optional: false,
            default_features: true,
            name: 'serde',
            features: ['derive'],
            version_req: '^1.0.100',
            target: null,
            kind: 'normal',
            registry: CRATES_IO,
          },
          {
            optional: false,
            default_features: true,
            name: 'cc',
            features: [],
            version_req: '1',
            target: null,
            kind: 'build',
            registry: OWN_INDEX[0],
          },
          {
            optional: false,
            default_features: true,
            name: 'binny',
            features: [],
            version_req: '=0.3',
            target: null,
            kind: 'build',
            registry: OWN_INDEX[1],
            artifact: ['bin'],
            bindep_target: 'x86_64-unknown-linux-gnu',
            lib: true,
            public: true,
          },
        ],
        features: { default: ['fancy'], fancy: ['dep:hr', 'hr?/greet'], std: [] },
        authors: ['A <a@example.com>'],
        description: 'not in the index',
        documentation: null,
        homepage: null,
        readme: '# readme',
        readme_file: 'README.md',
        keywords: ['k'],
        categories: ['not-a-category'],
        license: 'MIT',
        license_file: null,
        repository: 'https://example.com/repo',
        badges: {},
        links: 'abcnative',
        rust_version: '1.70',
        ...overrides,
      }),
    ),
  );
}

describe('indexLineFromNewCrate + serializeIndexLine', () => {
  const pubtimeMs = Date.UTC(2026, 10, 21, 4, 59, 45, 678);

  it('writes the exact line: keys in crates.io order, renames, own-registry deps as null, features unsplit', () => {
    const line = indexLineFromNewCrate(newCrate(), CKSUM, pubtimeMs, OWN_INDEX);
    validateIndexLine(line);
    expect(serializeIndexLine(line)).toBe(
      '{"name":"Abc_Def","vers":"0.2.0+build.1","deps":[' +
        '{"name":"hr","req":"^0.1","features":["extra"],"optional":true,"default_features":false,"target":null,"kind":"normal","registry":null,"package":"hello_reg"},' +
        '{"name":"hello_reg","req":"^0.1.0","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"dev","registry":null,"package":null},' +
        `{"name":"serde","req":"^1.0.100","features":["derive"],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"${CRATES_IO}","package":null},` +
        '{"name":"cc","req":"1","features":[],"optional":false,"default_features":true,"target":null,"kind":"build","registry":null,"package":null},' +
        '{"name":"binny","req":"=0.3","features":[],"optional":false,"default_features":true,"target":null,"kind":"build","registry":null,"package":null,"public":true,"artifact":["bin"],"bindep_target":"x86_64-unknown-linux-gnu","lib":true}' +
        `],"cksum":"${CKSUM}","features":{"default":["fancy"],"fancy":["dep:hr","hr?/greet"],"std":[]},"yanked":false,"links":"abcnative","rust_version":"1.70","pubtime":"2026-11-21T04:59:45Z"}`,
    );
  });

  it('orders keys the same way for a minimal crate, with explicit defaults and nulls', () => {
    const meta = parseNewCrate(Buffer.from(JSON.stringify({ name: 'm', vers: '1.0.0', deps: [{ name: 'dep', version_req: '1' }] })));
    const line = indexLineFromNewCrate(meta, CKSUM, 0, OWN_INDEX);
    expect(Object.keys(line)).toEqual(['name', 'vers', 'deps', 'cksum', 'features', 'yanked', 'links', 'rust_version', 'pubtime']);
    expect(Object.keys(line.deps[0])).toEqual([
      'name',
      'req',
      'features',
      'optional',
      'default_features',
      'target',
      'kind',
      'registry',
      'package',
    ]);
    expect(serializeIndexLine(line)).toBe(
      '{"name":"m","vers":"1.0.0","deps":[{"name":"dep","req":"1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":null,"package":null}],' +
        `"cksum":"${CKSUM}","features":{},"yanked":false,"links":null,"rust_version":null,"pubtime":"1970-01-01T00:00:00Z"}`,
    );
  });

  it('keeps descriptive metadata out of the line and never emits features2 or v', () => {
    const text = serializeIndexLine(indexLineFromNewCrate(newCrate(), CKSUM, pubtimeMs, OWN_INDEX));
    for (const absent of [
      'description',
      'readme',
      'authors',
      'keywords',
      'categories',
      'license',
      'repository',
      'badges',
      'features2',
      '"v"',
    ]) {
      expect(text).not.toContain(absent);
    }
  });

  it('serialises to one line even when strings hold newlines', () => {
    const line = indexLineFromNewCrate(newCrate({ features: { a: ['x\ny'] } }), CKSUM, pubtimeMs, OWN_INDEX);
    const text = serializeIndexLine(line);
    expect(text).not.toContain('\n');
    expect(JSON.parse(text)).toEqual(line);
  });

  it('keeps a feature named __proto__ (a valid Cargo feature name)', () => {
    const meta = parseNewCrate(Buffer.from('{"name":"p","vers":"1.0.0","deps":[],"features":{"__proto__":["std"],"std":[]}}'));
    const text = serializeIndexLine(indexLineFromNewCrate(meta, CKSUM, 0, OWN_INDEX));
    expect(text).toContain('"features":{"__proto__":["std"],"std":[]}');
  });
});

describe('withYanked', () => {
  const stored = serializeIndexLine(indexLineFromNewCrate(newCrate(), CKSUM, Date.UTC(2026, 0, 2, 3, 4, 5), OWN_INDEX));

  it('changes only the yanked flag, byte for byte', () => {
    const yanked = withYanked(stored, true);
    expect(yanked).toBe(stored.replace('"yanked":false', '"yanked":true'));
    expect(yanked.length).toBe(stored.length - 1);
    expect(withYanked(yanked, false)).toBe(stored);
  });

  it('is idempotent', () => {
    expect(withYanked(stored, false)).toBe(stored);
    expect(withYanked(withYanked(stored, true), true)).toBe(withYanked(stored, true));
  });

  it('keeps pubtime and every other field', () => {
    const before = JSON.parse(stored) as IndexLine;
    const after = JSON.parse(withYanked(stored, true)) as IndexLine;
    expect(after.pubtime).toBe('2026-01-02T03:04:05Z');
    expect({ ...after, yanked: false }).toEqual(before);
    expect(Object.keys(after)).toEqual(Object.keys(before));
  });

  it('touches only the top-level flag when features and dependencies are called "yanked"', () => {
    const meta = parseNewCrate(
      Buffer.from(
        JSON.stringify({
          name: 'y',
          vers: '1.0.0',
          deps: [{ name: 'yanked', version_req: '1', features: ['yanked'] }],
          features: { yanked: ['yanked/yanked'] },
        }),
      ),
    );
    const line = serializeIndexLine(indexLineFromNewCrate(meta, CKSUM, 0, OWN_INDEX));
    const flipped = withYanked(line, true);
    expect(flipped).toBe(line.replace('"yanked":false', '"yanked":true'));
    expect(flipped.match(/"yanked":true/g)).toHaveLength(1);
  });

  it('preserves unicode and escapes in a stored line', () => {
    const meta = parseNewCrate(
      Buffer.from(
        JSON.stringify({
          name: 'u',
          vers: '1.0.0',
          deps: [],
          features: { a: ['x/é', 'tab\there', 'quote"q', 'back\\slash', '\u2028', '😀'] },
        }),
      ),
    );
    const line = serializeIndexLine(indexLineFromNewCrate(meta, CKSUM, 0, OWN_INDEX));
    expect(withYanked(withYanked(line, true), false)).toBe(line);
    expect(withYanked(line, true)).toBe(line.replace('"yanked":false', '"yanked":true'));
  });
});
