/**
 * Problems: validation errors with a key path, rendered by the source they came from.
 * Also the wording helpers they share: key paths, "expected ..., got ..." and typo suggestions.
 */
import type { Issue, Path } from './shape.js';
import { KNOWN_KEYS, show } from './values.js';

export type { Path } from './shape.js';
export interface Problem {
  path: Path;
  message: string;
  /** The message already names the key ("unknown key ..."). */
  named?: boolean;
}

/** ["repos", 1, "visibility"] → "repos[1].visibility": how messages name a key when no line or variable does. */
export function showPath(path: Path): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : (i ? '.' : '') + (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))))
    .join('');
}

function orList(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest candidate within a few typos, if any: for "did you mean" on keys and repository names. */
export function suggest(word: string, candidates: string[]): string | undefined {
  const scored = candidates.map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }));
  const best = scored.sort((x, y) => x.d - y.d)[0];
  return best && best.d < word.length && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.c : undefined;
}

function unknownKey(parent: Path, key: string): Problem {
  const known = KNOWN_KEYS[parent.filter((p) => typeof p === 'string').join('.')] ?? [];
  const guess = suggest(key, known);
  let message = `unknown key "${showPath([...parent, key])}"`;
  if (guess) message += ` (did you mean "${guess}"?)`;
  // A top-level key written below a [table] header lands in that table.
  else if (parent.length && KNOWN_KEYS['']!.includes(key)) message += ' (top-level keys must come before the first [table])';
  return { path: [...parent, key], message, named: true };
}

const NOUNS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  array: 'an array',
  object: 'a table',
  boolean: 'true or false',
};

/** Rewords schema issues (shape.ts) as Problems, so messages speak TOML ("expected a string, got 42"). */
export function fromIssues(issues: readonly Issue[]): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    const path = issue.path;
    switch (issue.code) {
      case 'unrecognized_keys':
        return issue.keys.map((key) => unknownKey(path, key));
      case 'invalid_type':
        return [{ path, message: expected(NOUNS[issue.expected] ?? issue.expected, issue.input) }];
      case 'invalid_value':
        return [{ path, message: expected(orList(issue.values.map((v) => JSON.stringify(v))), issue.input) }];
      case 'too_small':
        return [{ path, message: expected(`at least ${issue.minimum}`, issue.input) }];
      default:
        return [{ path, message: issue.message }];
    }
  });
}

function expected(what: string, got: unknown): string {
  return got === undefined ? `missing (expected ${what})` : `expected ${what}, got ${show(got)}`;
}
