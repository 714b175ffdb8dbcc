/**
 * What a project's own files say about it, read the way brioche's static analysis reads them (brioche-core
 * project/analyze.rs): the literal of `export const project = {…}` in `project.bri` (name, version, dependencies, and
 * whatever else authors add there: brioche-packages write `repository`), the external projects its modules import
 * (implicit `*` dependencies), and the dependencies `brioche.lock` pins. Nothing here runs the TypeScript.
 */
import { isProjectName } from './keys.js';

/** A value the literal parser could not read as JSON (an expression): left out of the object. */
const SKIP = Symbol('skip');
type Value = unknown;
const MAX_DEPTH = 32;

type Token = { kind: 'punct'; text: string } | { kind: 'string'; text: string } | { kind: 'word'; text: string } | { kind: 'other' };

/** Tokens of a JavaScript/TypeScript source from `at`: strings, words, punctuation; comments dropped. */
function* tokens(src: string, at: number): Generator<Token> {
  let i = at;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (src.startsWith('//', i)) i = src.indexOf('\n', i) < 0 ? src.length : src.indexOf('\n', i);
    else if (src.startsWith('/*', i)) i = src.indexOf('*/', i + 2) < 0 ? src.length : src.indexOf('*/', i + 2) + 2;
    else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let text = '';
      let plain = true;
      for (; j < src.length && src[j] !== c; j++) {
        if (src[j] === '\\') {
          const e = src[++j] ?? '';
          text += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', 0: '\0' } as Record<string, string>)[e] ?? e;
        } else if (c === '`' && src.startsWith('${', j)) {
          // A template with substitutions is an expression; its end is found by the same scan (nested braces aside).
          plain = false;
          text += src[j];
        } else text += src[j];
      }
      i = j + 1;
      // An unterminated string is no literal either.
      yield plain && j < src.length ? { kind: 'string', text } : { kind: 'other' };
    } else if (/[\w$]/.test(c)) {
      const m = /^[\w$.+-]+/.exec(src.slice(i, i + 256))![0];
      // Numbers keep their exponent sign; identifiers stop at anything not a word character.
      const word = /^[-+]?\d/.test(m) ? m : /^[\w$]+/.exec(m)![0];
      i += word.length;
      yield { kind: 'word', text: word };
    } else {
      i++;
      yield { kind: 'punct', text: c };
    }
  }
}

/** A parser over the tokens of one literal: objects, arrays, strings, numbers, true/false/null; anything else is SKIP. */
class LiteralParser {
  private next: Token | undefined;
  private readonly it: Generator<Token>;
  private steps = 0;
  private depth = 0;

  constructor(src: string, at: number) {
    this.it = tokens(src, at);
    this.advance();
  }

  private advance(): void {
    // A bound on work: project.bri files are small, but nothing here may loop on hostile input.
    if (++this.steps > 200_000) throw new Error('literal too long');
    const r = this.it.next();
    this.next = r.done ? undefined : r.value;
  }

  private is(text: string): boolean {
    return this.next?.kind === 'punct' && this.next.text === text;
  }

  /** Skips the rest of an expression: up to a `,` or a closing bracket at depth 0 (not consumed). */
  private skip(): typeof SKIP {
    let depth = 0;
    while (this.next) {
      if (this.next.kind === 'punct') {
        const t = this.next.text;
        if ('([{'.includes(t)) depth++;
        else if (')]}'.includes(t)) {
          if (depth === 0) break;
          depth--;
        } else if ((t === ',' || t === ';') && depth === 0) break;
      }
      this.advance();
    }
    return SKIP;
  }

  /** One value; after it, anything but `,` or a closing bracket means it was part of an expression. */
  value(): Value | typeof SKIP {
    const t = this.next;
    let v: Value | typeof SKIP;
    if (!t) return SKIP;
    // Metadata nests a few levels; deeper is not worth a stack frame per level.
    if (this.depth > MAX_DEPTH) return this.skip();
    if (t.kind === 'punct' && t.text === '{') v = this.nested(() => this.object());
    else if (t.kind === 'punct' && t.text === '[') v = this.nested(() => this.array());
    else if (t.kind === 'string') {
      this.advance();
      v = t.text;
    } else if (t.kind === 'word' && /^[-+]?\d/.test(t.text) && Number.isFinite(Number(t.text))) {
      this.advance();
      v = Number(t.text);
    } else if (t.kind === 'word' && ['true', 'false', 'null'].includes(t.text)) {
      this.advance();
      v = JSON.parse(t.text) as Value;
    } else return this.skip();
    if (this.next && !(this.is(',') || this.is('}') || this.is(']') || this.is(';') || this.is(')'))) {
      // `as const` / `satisfies T` after the literal change nothing; anything else makes it an expression.
      const typed = this.next.kind === 'word' && (this.next.text === 'as' || this.next.text === 'satisfies');
      this.skip();
      return typed ? v : SKIP;
    }
    return v;
  }

  private nested<T>(read: () => T): T {
    this.depth++;
    try {
      return read();
    } finally {
      this.depth--;
    }
  }

  private object(): Record<string, Value> {
    const out: Record<string, Value> = Object.create(null) as Record<string, Value>;
    this.advance();
    while (this.next && !this.is('}')) {
      const k = this.next;
      const named = k.kind === 'word' || k.kind === 'string';
      if (named) this.advance();
      if (named && this.is(':')) {
        this.advance();
        const v = this.value();
        if (v !== SKIP) out[k.text] = v;
      } else this.skip(); // shorthand, method, spread or computed key: not JSON
      if (this.is(',')) this.advance();
      else if (!this.is('}')) break;
    }
    if (this.is('}')) this.advance();
    return out;
  }

  private array(): Value[] {
    const out: Value[] = [];
    this.advance();
    while (this.next && !this.is(']')) {
      const v = this.value();
      if (v !== SKIP) out.push(v);
      if (this.is(',')) this.advance();
      else if (!this.is(']')) break;
    }
    if (this.is(']')) this.advance();
    return out;
  }
}

/** The object `export const project = {…}` declares in a root module, as JSON; null when there is none or it is not a literal. */
export function projectExport(source: string): Record<string, unknown> | null {
  const m = /(?:^|[\s;])export\s+const\s+project\s*(?::[^=]*)?=\s*/m.exec(source);
  if (!m) return null;
  try {
    const v = new LiteralParser(source, m.index + m[0].length).value();
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The external projects a module imports (`import … from "std"`, `import "std"`, `export … from "std"`): brioche
 * adds each as a `*` dependency. Relative (`./`, `../`) and project-root (`/`) specifiers are the project's own modules.
 */
export function externalImports(source: string): string[] {
  const out = new Set<string>();
  const statements = /^[ \t]*(?:import|export)\b(?:[^;'"`]*?\bfrom)?\s*(['"])([^'"\n]+)\1/gm;
  for (const m of source.matchAll(statements)) {
    const spec = m[2]!;
    if (!/^[./]/.test(spec) && isProjectName(spec)) out.add(spec);
  }
  return [...out];
}

/** The dependency names `brioche.lock` pins (name → project hash); [] when it is not the lockfile's JSON. */
export function lockedDependencies(lockfile: string): Array<{ name: string; projectHash: string }> {
  try {
    const deps = (JSON.parse(lockfile) as { dependencies?: unknown }).dependencies;
    if (!deps || typeof deps !== 'object' || Array.isArray(deps)) return [];
    return Object.entries(deps as Record<string, unknown>)
      .filter((e): e is [string, string] => typeof e[1] === 'string' && isProjectName(e[0]))
      .map(([name, projectHash]) => ({ name, projectHash }));
  } catch {
    return [];
  }
}
