/**
 * Turning user text into search terms, without ever handing it to a query language as is: the text is cleaned
 * (well-formed, no control characters, capped), folded into a name key for exact/prefix matching, and split into
 * word tokens that are quoted one by one for FTS5's MATCH or PostgreSQL's to_tsquery.
 */

/** Longest query text considered (characters); the rest is ignored. */
export const MAX_QUERY_LENGTH = 256;
/** Most word tokens used for the full-text part of a query. */
export const MAX_TOKENS = 16;
/** Longest word token (characters): far below PostgreSQL's 2 KB lexeme limit. */
export const MAX_TOKEN_LENGTH = 64;

export interface ParsedQuery {
  /** The cleaned text folded like names (`nameKey`); '' for a blank query, which lists everything. */
  key: string;
  /** Word tokens (lower case, letters/digits/marks), at most MAX_TOKENS; the last one is prefix-matched. */
  tokens: string[];
}

/** A name folded for exact and prefix matching: lower case, `-` and `_` the same (`hello-reg` = `Hello_Reg`). */
export function nameKey(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/**
 * Cleans user text: lone surrogates become U+FFFD, control characters (NUL breaks PostgreSQL text) become
 * spaces, NFKC folds compatibility forms, and the result is trimmed and capped at MAX_QUERY_LENGTH.
 */
export function cleanQuery(text: string): string {
  const capped = String(text).slice(0, MAX_QUERY_LENGTH * 2);
  const clean = capped
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/\p{Cc}/gu, ' ')
    .normalize('NFKC');
  return [...clean.trim()].slice(0, MAX_QUERY_LENGTH).join('').trim();
}

/** Parses user text into a name key and word tokens; never throws. */
export function parseQuery(text: string): ParsedQuery {
  const clean = cleanQuery(text);
  const tokens = (clean.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu) ?? [])
    .slice(0, MAX_TOKENS)
    .map((t) => [...t].slice(0, MAX_TOKEN_LENGTH).join(''));
  return { key: nameKey(clean), tokens };
}

/** An FTS5 MATCH expression: every token a quoted string (AND), the last one prefix-matched; null without tokens. */
export function fts5Query(tokens: string[]): string | null {
  if (tokens.length === 0) return null;
  return tokens.map((t, i) => `"${t.replace(/"/g, '""')}"${i === tokens.length - 1 ? '*' : ''}`).join(' ');
}

/** A to_tsquery('simple', …) expression: every token a quoted lexeme (&), the last one prefix-matched; null without tokens. */
export function tsQuery(tokens: string[]): string | null {
  if (tokens.length === 0) return null;
  return tokens.map((t, i) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}'${i === tokens.length - 1 ? ':*' : ''}`).join(' & ');
}

/** A LIKE pattern for names starting with `key`, with `\` as the escape character. */
export function prefixPattern(key: string): string {
  return `${key.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
