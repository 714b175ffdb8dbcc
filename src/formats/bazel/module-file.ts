import { fail } from '../../core/errors.js';

/** What Larder reads from a MODULE.bazel: the module() call and the bazel_dep() calls. */
export interface ModuleDecl {
  name: string | null;
  version: string | null;
  compatibilityLevel: number;
  bazelCompatibility: string[];
  deps: Array<{ name: string; version: string; devDependency: boolean }>;
}

type Token =
  | { kind: 'ident'; text: string; line: number }
  | { kind: 'string'; value: string; line: number }
  | { kind: 'number'; text: string; line: number }
  | { kind: 'op'; text: string; line: number }
  | { kind: 'newline'; line: number };

/** A literal value, or `undefined` for an expression this reader does not evaluate. */
type Value = string | number | boolean | string[] | undefined;

const OPERATOR = /\*\*=?|\/\/=?|<<=?|>>=?|->|[=!<>+\-*/%&|^]=|[()[\]{},.:;=+\-*/%&|^~<>]/y;
const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const FIX = 'fix MODULE.bazel so that Bazel can read it';

/**
 * Reads module(...) and bazel_dep(...) from MODULE.bazel (a Starlark subset, not an interpreter).
 * Throws METADATA_INVALID on syntax errors, a second module() call, or badly typed attributes.
 */
export function readModuleFile(text: string): ModuleDecl {
  const tokens = tokenize(text);
  const decl: ModuleDecl = { name: null, version: null, compatibilityLevel: 0, bazelCompatibility: [], deps: [] };
  const globals = new Map<string, Value>();
  let moduleLine = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const prev = tokens[i - 1];
    if (t.kind !== 'ident' || isOp(prev, '.')) continue;
    const next = tokens[i + 1];
    if (isOp(next, '=') && (!prev || prev.kind === 'newline')) {
      // NAME = <literal>: remembered so that module(version = VERSION) can be read.
      globals.set(t.text, evaluate(tokens.slice(i + 2, statementEnd(tokens, i + 2)), globals));
      continue;
    }
    if ((t.text !== 'module' && t.text !== 'bazel_dep') || !isOp(next, '(')) continue;
    const close = matching(tokens, i + 1);
    const args = keywordArgs(tokens.slice(i + 2, close), t.text, t.line, globals);
    if (t.text === 'module') {
      if (moduleLine)
        fail('METADATA_INVALID', `MODULE.bazel calls module() twice (lines ${moduleLine} and ${t.line}); keep only one module() call`);
      moduleLine = t.line;
      decl.name = typed(args, 'name', 'string', t.line) ?? null;
      decl.version = typed(args, 'version', 'string', t.line) ?? null;
      decl.compatibilityLevel = typed(args, 'compatibility_level', 'int', t.line) ?? 0;
      decl.bazelCompatibility = typed(args, 'bazel_compatibility', 'list of strings', t.line) ?? [];
    } else {
      const name = typed(args, 'name', 'string', t.line);
      if (name === undefined) fail('METADATA_INVALID', `bazel_dep() on line ${t.line} of MODULE.bazel has no name; add name = "<module>"`);
      decl.deps.push({
        name,
        version: typed(args, 'version', 'string', t.line) ?? '',
        devDependency: typed(args, 'dev_dependency', 'bool', t.line) ?? false,
      });
    }
    i = close;
  }
  return decl;
}

/** MODULE.bazel equality as the BCR checks it: line endings normalised and trailing whitespace stripped per line. */
export function sameModuleFile(a: string, b: string): boolean {
  const lines = (s: string) =>
    s
      .replace(/\r\n?/g, '\n')
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => l.trimEnd());
  const x = lines(a);
  const y = lines(b);
  return x.length === y.length && x.every((l, i) => l === y[i]);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const open: Array<{ text: string; line: number }> = [];
  let line = 1;
  let i = 0;
  const at = (msg: string, l = line): never => fail('METADATA_INVALID', `MODULE.bazel line ${l}: ${msg}; ${FIX}`);
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      if (open.length === 0 && tokens.at(-1)?.kind !== 'newline') tokens.push({ kind: 'newline', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '\\') {
      if (text[i + 1] === '\n') {
        i += 2;
        line++;
      } else if (text.startsWith('\r\n', i + 1)) {
        i += 3;
        line++;
      } else at('a backslash outside a string must end the line');
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /[A-Za-z_][A-Za-z0-9_]*/y;
      m.lastIndex = i;
      const word = m.exec(text)![0];
      const q = text[i + word.length];
      if ((q === '"' || q === "'") && /^(r|b|rb|br)$/i.test(word)) {
        const s = readString(text, i + word.length, /r/i.test(word), line, at);
        tokens.push({ kind: 'string', value: s.value, line });
        line += s.lines;
        i = s.end;
      } else {
        tokens.push({ kind: 'ident', text: word, line });
        i += word.length;
      }
    } else if (c === '"' || c === "'") {
      const s = readString(text, i, false, line, at);
      tokens.push({ kind: 'string', value: s.value, line });
      line += s.lines;
      i = s.end;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /[0-9.]*[0-9A-Za-z_]*(?:[eE][+-]?[0-9]+)?/y;
      m.lastIndex = i;
      const num = m.exec(text)![0];
      tokens.push({ kind: 'number', text: num, line });
      i += num.length;
    } else {
      OPERATOR.lastIndex = i;
      const op = OPERATOR.exec(text)?.[0] ?? at(`unexpected character ${JSON.stringify(c)}`);
      if (CLOSER[op]) open.push({ text: op, line });
      else if (op === ')' || op === ']' || op === '}') {
        const top = open.pop();
        if (!top) at(`"${op}" has no matching opening bracket`);
        else if (CLOSER[top.text] !== op) at(`"${op}" does not match "${top.text}" opened on line ${top.line}`);
      }
      tokens.push({ kind: 'op', text: op, line });
      i += op.length;
    }
  }
  const unclosed = open.pop();
  if (unclosed) at(`"${unclosed.text}" is never closed`, unclosed.line);
  tokens.push({ kind: 'newline', line });
  return tokens;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };

/** Reads a string literal starting at its opening quote; `lines` counts the newlines it spans. */
function readString(text: string, start: number, raw: boolean, line: number, at: (msg: string, l?: number) => never) {
  const q = text[start];
  const triple = text.startsWith(q.repeat(3), start);
  const delim = triple ? q.repeat(3) : q;
  let i = start + delim.length;
  let value = '';
  let lines = 0;
  for (;;) {
    if (i >= text.length || (!triple && text[i] === '\n')) at('unterminated string', line);
    if (text.startsWith(delim, i)) return { value, end: i + delim.length, lines };
    const c = text[i];
    if (c === '\n') lines++;
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = text[i + 1] ?? '';
    if (e === '\n') lines++;
    if (raw) {
      value += c + e;
      i += 2;
      continue;
    }
    if (e === '\n') {
      i += 2;
      continue;
    }
    if (ESCAPES[e]) {
      value += ESCAPES[e];
      i += 2;
      continue;
    }
    const hex = /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{1,3}))/.exec(text.slice(i + 1, i + 10));
    if (!hex) at(`invalid escape sequence \\${e} in a string`, line + lines);
    const code = hex[1] ?? hex[2] ?? hex[3];
    value += String.fromCodePoint(code ? parseInt(code, 16) : parseInt(hex[4], 8));
    i += 1 + hex[0].length;
  }
}

/** Index of the token closing the bracket at `open`, or -1. */
function matching(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== 'op') continue;
    if (CLOSER[t.text]) depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') if (--depth === 0) return i;
  }
  return -1;
}

function statementEnd(tokens: Token[], from: number): number {
  let i = from;
  while (i < tokens.length && tokens[i].kind !== 'newline' && !isOp(tokens[i], ';')) i++;
  return i;
}

function isOp(t: Token | undefined, text: string): boolean {
  return t?.kind === 'op' && t.text === text;
}

/** Splits call arguments at top-level commas into keyword → value; positional arguments are rejected. */
function keywordArgs(tokens: Token[], fn: string, line: number, globals: Map<string, Value>): Map<string, Value> {
  const args = new Map<string, Value>();
  for (const arg of splitCommas(tokens)) {
    const [key, eq] = arg;
    if (key?.kind !== 'ident' || !isOp(eq, '=')) {
      fail(
        'METADATA_INVALID',
        `${fn}() on line ${line} of MODULE.bazel has a positional argument; ${fn}() takes keyword arguments only (name = "...")`,
      );
    }
    if (args.has(key.text)) fail('METADATA_INVALID', `${fn}() on line ${line} of MODULE.bazel sets ${key.text} twice; keep one`);
    args.set(key.text, evaluate(arg.slice(2), globals));
  }
  return args;
}

function splitCommas(tokens: Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'op' && CLOSER[t.text]) depth++;
    else if (t.kind === 'op' && (t.text === ')' || t.text === ']' || t.text === '}')) depth--;
    if (depth === 0 && isOp(t, ',')) parts.push([]);
    else parts.at(-1)!.push(t);
  }
  return parts.filter((p) => p.length > 0); // trailing comma
}

/** Evaluates string (with `+`), int, True/False, list-of-string literals and names bound to them. */
function evaluate(tokens: Token[], globals: Map<string, Value>): Value {
  const terms = splitOn(tokens, '+');
  if (terms.length > 1) {
    const parts = terms.map((t) => evaluate(t, globals));
    return parts.every((p) => typeof p === 'string') ? parts.join('') : undefined;
  }
  const [t, ...rest] = tokens;
  if (isOp(t, '-') && rest.length === 1) {
    const n = evaluate(rest, globals);
    return typeof n === 'number' ? -n : undefined;
  }
  if (rest.length === 0) {
    if (t?.kind === 'string') return t.value;
    if (t?.kind === 'number')
      return /^(0|[1-9][0-9]*)$/.test(t.text) ? Number(t.text) : /^0[xXoO]/.test(t.text) ? Number(t.text.toLowerCase()) : undefined;
    if (t?.kind === 'ident') return t.text === 'True' ? true : t.text === 'False' ? false : globals.get(t.text);
    return undefined;
  }
  const last = tokens.at(-1)!;
  if (isOp(t, '[') && isOp(last, ']') && matching(tokens, 0) === tokens.length - 1) {
    const items = splitCommas(tokens.slice(1, -1)).map((item) => evaluate(item, globals));
    return items.every((s) => typeof s === 'string') ? (items as string[]) : undefined;
  }
  return undefined;
}

function splitOn(tokens: Token[], op: string): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  tokens.forEach((t, i) => {
    if (t.kind === 'op' && CLOSER[t.text]) depth++;
    else if (t.kind === 'op' && (t.text === ')' || t.text === ']' || t.text === '}')) depth--;
    // A binary operator needs an operand before it (so unary minus stays whole).
    if (depth === 0 && i > 0 && isOp(t, op)) parts.push([]);
    else parts.at(-1)!.push(t);
  });
  return parts;
}

type Kinds = { string: string; int: number; bool: boolean; 'list of strings': string[] };

/** Reads an attribute of the expected type; absent → undefined; anything else → METADATA_INVALID. */
function typed<K extends keyof Kinds>(args: Map<string, Value>, key: string, kind: K, line: number): Kinds[K] | undefined {
  if (!args.has(key)) return undefined;
  const v = args.get(key);
  const ok =
    kind === 'string'
      ? typeof v === 'string'
      : kind === 'int'
        ? Number.isSafeInteger(v)
        : kind === 'bool'
          ? typeof v === 'boolean'
          : Array.isArray(v);
  if (!ok) {
    fail(
      'METADATA_INVALID',
      `the ${key} attribute on line ${line} of MODULE.bazel must be a ${kind} literal (a computed value cannot be checked by the registry); write it out literally`,
    );
  }
  return v as Kinds[K];
}
