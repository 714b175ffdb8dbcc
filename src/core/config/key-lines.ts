/**
 * Locating keys in the TOML source. smol-toml keeps no positions, so a light scan maps
 * key paths to lines; it only has to be right for files smol-toml accepted.
 */
import type { Path } from './problems.js';

const KEY_PART = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*/y;

/** Reads a dotted key (bare, "basic" or 'literal' parts) at `pos`. */
function readKey(s: string, pos: number): { parts: string[]; end: number } | null {
  const parts: string[] = [];
  for (;;) {
    KEY_PART.lastIndex = pos;
    const m = KEY_PART.exec(s);
    if (!m) return null;
    if (m[1] !== undefined) parts.push(m[1]);
    else if (m[2] !== undefined) parts.push(unescapeBasic(m[2]));
    else parts.push(m[3]!);
    pos = KEY_PART.lastIndex;
    if (s[pos] !== '.') return { parts, end: pos };
    pos++;
  }
}

function unescapeBasic(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

const pathKey = (path: Path) => path.join('\0');

/**
 * Maps each key path (and array-table entry, e.g. ["repos", 1]) to the 1-based line that defines it,
 * so a problem in larder.toml can be reported as FILE:LINE.
 */
export function locateKeys(source: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayIndex = new Map<string, number>(); // resolved array-table path → current entry
  const note = (path: Path, line: number) => {
    if (!lines.has(pathKey(path))) lines.set(pathKey(path), line); // the first definition wins
  };
  let table: Path = [];
  let multiline: string | null = null;

  source.split(/\r?\n/).forEach((text, i) => {
    const line = i + 1;
    if (multiline) {
      if (text.split(multiline).length % 2 === 0) multiline = null;
      return;
    }
    const t = text.trimStart();
    if (t.startsWith('[')) {
      const isArray = t.startsWith('[[');
      const key = readKey(t, isArray ? 2 : 1);
      if (!key || !t.startsWith(isArray ? ']]' : ']', key.end)) return;
      // [repos.x] after [[repos]] means the last repos entry: thread the current indexes through.
      table = [];
      key.parts.forEach((part, j) => {
        table.push(part);
        note(table, line); // [a.b] defines a too, if nothing did before
        const k = pathKey(table);
        if (isArray && j === key.parts.length - 1) arrayIndex.set(k, (arrayIndex.get(k) ?? -1) + 1);
        if (arrayIndex.has(k)) table.push(arrayIndex.get(k)!);
      });
      note(table, line);
      return;
    }
    const key = readKey(t, 0);
    if (!key || t[key.end] !== '=') return;
    const full = [...table, ...key.parts];
    for (let n = table.length + 1; n <= full.length; n++) note(full.slice(0, n), line);
    // A multi-line string opened here hides key-like lines until it closes.
    for (const quotes of ['"""', "'''"]) if (t.slice(key.end).split(quotes).length % 2 === 0) multiline = quotes;
  });
  return lines;
}

/** The line of the key, else of its nearest enclosing key or table header: a problem always gets some line to point at. */
export function lineOf(lines: Map<string, number>, path: Path): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(pathKey(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return undefined;
}
