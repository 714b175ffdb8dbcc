import { describe, expect, it } from 'vitest';
import { MAX_QUERY_LENGTH, MAX_TOKENS, cleanQuery, fts5Query, nameKey, parseQuery, prefixPattern, tsQuery } from './query.js';

describe('search query parsing', () => {
  it('folds names: case and - versus _', () => {
    expect(nameKey('Hello-Reg_x')).toBe('hello_reg_x');
  });

  it('splits words, dropping operators and punctuation', () => {
    expect(parseQuery(' NEAR(hello "reg") -x* ')).toEqual({ key: 'near(hello "reg") _x*', tokens: ['near', 'hello', 'reg', 'x'] });
    expect(parseQuery('%').tokens).toEqual([]);
    expect(parseQuery('   ')).toEqual({ key: '', tokens: [] });
  });

  it('cleans lone surrogates, control characters and huge input', () => {
    expect(cleanQuery('a\0b\ud800c')).toBe('a b\ufffdc');
    expect(cleanQuery('x'.repeat(100_000))).toHaveLength(MAX_QUERY_LENGTH);
    expect(parseQuery('w '.repeat(100)).tokens).toHaveLength(MAX_TOKENS);
  });

  it('quotes every token for FTS5 and to_tsquery, the last as a prefix', () => {
    expect(fts5Query(['a"b', 'c'])).toBe('"a""b" "c"*');
    expect(tsQuery(["a'b", 'c\\'])).toBe("'a''b' & 'c\\\\':*");
    expect(fts5Query([])).toBeNull();
    expect(tsQuery([])).toBeNull();
  });

  it('escapes LIKE wildcards in prefixes', () => {
    expect(prefixPattern('a_%\\')).toBe('a\\_\\%\\\\%');
  });
});
