import { thrown } from '../../../test/support/errors.js';
import { describe, it, expect } from 'vitest';
import { crateNameFromIndexPath, indexPath, normCrateName, validateCrateName } from './names.js';
import { isVersionReq, validateVersion, versionKey } from './semver.js';

describe('indexPath (cargo.md §4.1)', () => {
  it.each([
    ['a', '1/a'],
    ['Z', '1/z'],
    ['ab', '2/ab'],
    ['aB', '2/ab'],
    ['abc', '3/a/abc'],
    ['AbC', '3/a/abc'],
    ['abcd', 'ab/cd/abcd'],
    ['cargo', 'ca/rg/cargo'],
    ['mycrate', 'my/cr/mycrate'],
    ['MyCrate', 'my/cr/mycrate'],
    ['foo-bar', 'fo/o-/foo-bar'],
    ['foo_bar', 'fo/o_/foo_bar'],
    ['a-b', '3/a/a-b'],
    ['x1', '2/x1'],
  ])('%s → %s', (name, path) => {
    expect(indexPath(name)).toBe(path);
  });

  it('keeps the hyphen and underscore spellings apart (Cargo probes both)', () => {
    expect(indexPath('foo-bar')).not.toBe(indexPath('foo_bar'));
  });
});

describe('crateNameFromIndexPath', () => {
  it.each(['1/a', '2/ab', '3/a/abc', 'ab/cd/abcd', 'ca/rg/cargo', 'my/cr/mycrate', 'fo/o-/foo-bar', 'fo/o_/foo_bar', 'x1/23/x123'])(
    '%s is a crate path',
    (path) => {
      const name = crateNameFromIndexPath(path);
      expect(name).not.toBeNull();
      expect(indexPath(name!)).toBe(path);
    },
  );

  it.each([
    ['mixed-case directories', 'My/Cr/MyCrate'],
    ['mixed-case file name', 'my/cr/MyCrate'],
    ['upper-case one-letter name', '1/A'],
    ['wrong length bucket (1 for two letters)', '1/ab'],
    ['wrong length bucket (2 for one letter)', '2/a'],
    ['three letters without the first-char directory', '3/abc'],
    ['three letters under the wrong first char', '3/b/abc'],
    ['four letters without shards', 'abcd'],
    ['four letters, one shard', 'ab/abcd'],
    ['wrong shard', 'ab/dc/abcd'],
    ['trailing slash', 'ca/rg/cargo/'],
    ['leading slash', '/ca/rg/cargo'],
    ['empty', ''],
    ['a dot in the name', 'ca/rg/cargo.json'],
    ['config.json', 'config.json'],
    ['parent directory', '..'],
    ['dot segments', 'ca/rg/../rg/cargo'],
    ['percent-encoding', 'ca/rg/carg%6F'],
    ['unicode', 'ca/fé/cafés'],
  ])('%s (%s) is not', (_what, path) => {
    expect(crateNameFromIndexPath(path)).toBeNull();
  });
});

describe('validateCrateName (cargo.md §4.2)', () => {
  it.each([
    'a',
    'Z',
    'foo',
    'foo-bar',
    'foo_bar',
    'Foo_Bar9',
    'hello_reg',
    'a1-_',
    'nullable',
    'console',
    'com0',
    'com10',
    'lpt',
    'x'.repeat(64),
  ])('accepts %s', (name) => {
    expect(() => validateCrateName(name)).not.toThrow();
  });

  it.each([
    ['empty', '', /empty/],
    ['missing', undefined, /empty; set package.name/],
    ['not a string', 42, /empty/],
    ['65 characters', 'x'.repeat(65), /65 characters long; the limit is 64/],
    ['a path', '../x', /only ASCII letters, digits, '-' and '_', starting with a letter/],
    ['a slash', 'foo/bar', /only ASCII letters/],
    ['a leading digit', '1abc', /starting with a letter/],
    ['a leading underscore', '_foo', /starting with a letter/],
    ['a leading hyphen', '-foo', /starting with a letter/],
    ['a space', 'foo bar', /only ASCII letters/],
    ['a dot', 'foo.bar', /only ASCII letters/],
    ['unicode letters', 'héllo', /only ASCII letters/],
    ['a unicode first letter', 'ñu', /only ASCII letters/],
    ['a NUL byte', 'foo\0', /only ASCII letters/],
    ['nul', 'nul', /reserved name on Windows/],
    ['NUL', 'NUL', /reserved name on Windows/],
    ['con', 'con', /reserved/],
    ['prn', 'prn', /reserved/],
    ['aux', 'Aux', /reserved/],
    ['com1', 'com1', /reserved/],
    ['COM1', 'COM1', /reserved/],
    ['com9', 'com9', /reserved/],
    ['lpt1', 'Lpt1', /reserved/],
    ['lpt9', 'lpt9', /reserved/],
  ])('rejects %s', (_what, name, detail) => {
    const err = thrown(() => validateCrateName(name));
    expect(err.code).toBe('NAME_INVALID');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(detail);
  });

  it('quotes at most 80 characters of an overlong name', () => {
    const err = thrown(() => validateCrateName('y'.repeat(500)));
    expect(err.message.length).toBeLessThan(200);
  });
});

describe('normCrateName', () => {
  it('folds case and - versus _', () => {
    for (const n of ['Foo-Bar', 'foo_bar', 'FOO_BAR', 'foo-bar', 'fOo_BaR']) expect(normCrateName(n)).toBe('foo_bar');
    expect(normCrateName('hello-reg')).toBe(normCrateName('Hello_Reg'));
    expect(normCrateName('foobar')).not.toBe(normCrateName('foo_bar'));
  });
});

describe('validateVersion (SemVer 2.0.0)', () => {
  it.each([
    '0.0.0',
    '1.0.0',
    '10.20.30',
    '1.2.3-beta.1',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-0.3.7',
    '1.0.0-x.7.z.92',
    '1.0.0-x-y-z.--',
    '1.0.0-0a',
    '1.0.0+build',
    '1.0.0+build.5',
    '1.0.0+build.01',
    '1.0.0+20130313144700',
    '1.0.0-alpha+001',
    '1.0.0-beta+exp.sha.5114f85',
    '999999999.999999999.999999999',
  ])('accepts %s', (vers) => {
    expect(() => validateVersion(vers)).not.toThrow();
  });

  it.each([
    ['1.0'],
    ['1'],
    ['v1.0.0'],
    ['V1.0.0'],
    ['=1.0.0'],
    ['01.0.0'],
    ['1.00.0'],
    ['1.0.01'],
    ['1.0.0-01'],
    ['1.0.0-beta.01'],
    ['1.0.0-'],
    ['1.0.0+'],
    ['1.0.0+build+x'],
    ['1.0.0-beta..1'],
    ['1.0.0+bu_ild'],
    ['1.0.0-bé'],
    [' 1.0.0'],
    ['1.0.0 '],
    ['1.0.0.0'],
    ['1.0.x'],
    ['^1.0.0'],
    [''],
    [undefined],
    [1],
    [null],
  ])('rejects %j', (vers) => {
    const err = thrown(() => validateVersion(vers));
    expect(err.code).toBe('VERSION_INVALID');
    expect(err.status).toBe(400);
    expect(err.message).toContain('versions must be SemVer 2.0.0, like 1.2.3');
  });
});

describe('versionKey', () => {
  it('drops only build metadata', () => {
    expect(versionKey('1.0.0')).toBe('1.0.0');
    expect(versionKey('1.0.0+build')).toBe('1.0.0');
    expect(versionKey('1.0.0+other.7')).toBe('1.0.0');
    expect(versionKey('1.0.0-beta.1+build')).toBe('1.0.0-beta.1');
    expect(versionKey('1.0.0-beta.1')).toBe('1.0.0-beta.1');
  });
});

describe('isVersionReq (Cargo version requirements)', () => {
  it.each([
    '1',
    '1.2',
    '1.2.3',
    '0.6',
    '^0.6',
    '^1.2.3',
    '~1',
    '~1.2',
    '~1.2.3',
    '=1.0.3',
    '>1',
    '>=1.2.0',
    '<2',
    '<=1.5',
    '>=1, <2',
    '>=1,<2',
    '>= 1.2.0, < 1.5',
    ' ^1 ',
    '*',
    '1.*',
    '1.2.*',
    '1.x',
    '1.2.X',
    '^1.2.3-beta.1',
    '=1.0.0-alpha.1',
  ])('accepts %j', (req) => {
    expect(isVersionReq(req)).toBe(true);
  });

  it.each([
    '',
    ' ',
    'abc',
    'latest',
    '1.0.0.0',
    '^',
    '>=',
    '>=1 <2',
    '1,',
    ',1',
    '1,,2',
    '01.0',
    '^01',
    '1.02',
    'v1',
    '=>1',
    '=<1',
    '1.2.3-',
    '1 2',
    '^1.2.3-beta..1',
    '||',
    '1 || 2',
  ])('rejects %j', (req) => {
    expect(isVersionReq(req)).toBe(false);
  });

  it('rejects non-strings', () => {
    for (const v of [undefined, null, 1, ['1'], { req: '1' }]) expect(isVersionReq(v)).toBe(false);
  });
});
