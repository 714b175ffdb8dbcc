/**
 * The few schema kinds larder.toml needs (strict tables, strings, integers, booleans, one-of, arrays, parsers), checked
 * the way zod 4 checks them and reporting the same issues in the same order (problems.ts words them): zod itself costs a
 * start ~20 ms to load and build the schemas (cold start, issue 14), and the API routes that use it load after listening.
 */

/** A key path in TOML terms, e.g. ["repos", 1, "name"]. */
export type Path = (string | number)[];

/** One validation problem, in zod's terms (code, path, input and what the code needs). */
export type Issue =
  | { code: 'invalid_type'; path: Path; input: unknown; expected: string; message: string }
  | { code: 'invalid_value'; path: Path; input: unknown; values: readonly unknown[]; message: string }
  | { code: 'too_small'; path: Path; input: unknown; minimum: number; origin: string; message: string }
  | { code: 'too_big'; path: Path; input: unknown; maximum: number; origin: string; message: string }
  | { code: 'unrecognized_keys'; path: Path; input: unknown; keys: string[]; message: string }
  | { code: 'invalid_union'; path: Path; input: unknown; message: string }
  | { code: 'custom'; path: Path; input: unknown; message: string };

/** What a check returns when the value is wrong (its issues were added). */
const INVALID: unique symbol = Symbol('invalid');
type Result<T> = T | typeof INVALID;

/** A schema: `check` adds the issues of `input` at `path` and returns the value (parsed), or INVALID. */
export interface Schema<T> {
  check(input: unknown, path: Path, issues: Issue[]): Result<T>;
  /** May be absent from its table (`optional`, `withDefault`, every key of a `partial` table). */
  readonly absent?: 'optional' | { default: T };
}

export type Output<S> = S extends Schema<infer T> ? T : never;

/** How zod names what it received: `typeof`, but NaN, ±Infinity, null, array and a class instance's class by name. */
function kindOf(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? 'number' : String(v);
  if (typeof v !== 'object') return typeof v;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const proto: unknown = Object.getPrototypeOf(v);
  const ctor = (v as { constructor?: { name?: string } }).constructor;
  return proto !== Object.prototype && 'constructor' in v && ctor ? String(ctor.name) : 'object';
}

function invalidType(issues: Issue[], path: Path, input: unknown, expected: string): typeof INVALID {
  issues.push({ code: 'invalid_type', path, input, expected, message: `Invalid input: expected ${expected}, received ${kindOf(input)}` });
  return INVALID;
}

/**
 * A minimum length, checked as zod checks it: on any string or array, even one of the wrong type for the schema (zod
 * then reports both problems).
 */
function tooShort(issues: Issue[], path: Path, input: unknown, min: number | undefined): boolean {
  if (min === undefined || !(typeof input === 'string' || Array.isArray(input)) || input.length >= min) return false;
  const [origin, unit] = typeof input === 'string' ? ['string', 'characters'] : ['array', 'items'];
  issues.push({ code: 'too_small', path, input, minimum: min, origin, message: `Too small: expected ${origin} to have >=${min} ${unit}` });
  return true;
}

export function string(opts: { min?: number } = {}): Schema<string> {
  return {
    check(input, path, issues) {
      if (typeof input !== 'string') {
        invalidType(issues, path, input, 'string');
        tooShort(issues, path, input, opts.min);
        return INVALID;
      }
      return tooShort(issues, path, input, opts.min) ? INVALID : input;
    },
  };
}

/** A safe integer within [min, max] (zod's `z.int().min().max()`). */
export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  return {
    check(input, path, issues) {
      if (typeof input !== 'number' || !Number.isFinite(input)) return invalidType(issues, path, input, 'number');
      if (!Number.isInteger(input)) return invalidType(issues, path, input, 'int');
      const before = issues.length;
      const small = (minimum: number, origin: string) =>
        issues.push({ code: 'too_small', path, input, minimum, origin, message: `Too small: expected ${origin} to be >=${minimum}` });
      const big = (maximum: number, origin: string) =>
        issues.push({ code: 'too_big', path, input, maximum, origin, message: `Too big: expected ${origin} to be <=${maximum}` });
      if (input < Number.MIN_SAFE_INTEGER) small(Number.MIN_SAFE_INTEGER, 'int');
      if (input > Number.MAX_SAFE_INTEGER) big(Number.MAX_SAFE_INTEGER, 'int');
      if (opts.min !== undefined && input < opts.min) small(opts.min, 'number');
      if (opts.max !== undefined && input > opts.max) big(opts.max, 'number');
      return issues.length > before ? INVALID : input;
    },
  };
}

export function boolean(): Schema<boolean> {
  return { check: (input, path, issues) => (typeof input === 'boolean' ? input : invalidType(issues, path, input, 'boolean')) };
}

/** One of `values` (zod's `z.enum`, and `z.literal` for one value). */
export function oneOf<const V extends readonly (string | number)[]>(values: V): Schema<V[number]> {
  const message = `Invalid option: expected one of ${values.map((v) => JSON.stringify(v)).join('|')}`;
  return {
    check(input, path, issues) {
      if ((values as readonly unknown[]).includes(input)) return input as V[number];
      issues.push({ code: 'invalid_value', path, input, values, message });
      return INVALID;
    },
  };
}

/**
 * The value of whichever schema takes it (zod's `z.union`): when none does, the issues of the only one that got past
 * the type of the value, else `invalid_union`.
 */
export function union<A, B>(a: Schema<A>, b: Schema<B>): Schema<A | B> {
  const aborts = (found: Issue[]) => found.some((i) => i.code === 'invalid_type' || i.code === 'invalid_value');
  return {
    check(input, path, issues) {
      const results = [a, b].map((s) => {
        const found: Issue[] = [];
        return { value: s.check(input, path, found), found };
      });
      const ok = results.find((r) => r.value !== INVALID);
      if (ok) return ok.value as A | B;
      const past = results.filter((r) => !aborts(r.found));
      if (past.length === 1) issues.push(...past[0]!.found);
      else issues.push({ code: 'invalid_union', path, input, message: 'Invalid input' });
      return INVALID;
    },
  };
}

export function array<T>(item: Schema<T>, opts: { min?: number } = {}): Schema<T[]> {
  return {
    check(input, path, issues) {
      if (!Array.isArray(input)) {
        invalidType(issues, path, input, 'array');
        tooShort(issues, path, input, opts.min);
        return INVALID;
      }
      const before = issues.length;
      const out = input.map((v: unknown, i) => item.check(v, [...path, i], issues));
      tooShort(issues, path, input, opts.min);
      return issues.length > before ? INVALID : (out as T[]);
    },
  };
}

/** A value `parse` turns into another, or throws an Error whose message is the problem (zod's transform + custom issue). */
export function parsed<I, T>(base: Schema<I>, parse: (v: I) => T): Schema<T> {
  return {
    check(input, path, issues) {
      const v = base.check(input, path, issues);
      if (v === INVALID) return INVALID;
      try {
        return parse(v);
      } catch (err) {
        issues.push({ code: 'custom', path, input: v, message: (err as Error).message });
        return INVALID;
      }
    },
  };
}

/** Any value, for `parsed` to look at. */
export function unknown(): Schema<unknown> {
  return { check: (input) => input };
}

export function optional<T>(s: Schema<T>): Schema<T | undefined> {
  return { check: s.check, absent: 'optional' };
}

export function withDefault<T>(s: Schema<T>, value: T): Schema<T> {
  return { check: s.check, absent: { default: value } };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K]['absent'] extends 'optional' ? K : never }[keyof S];
type TableOf<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: Output<S[K]> } & { [K in OptionalKeys<S>]?: Output<S[K]> };

/** A table with exactly these keys (zod's `z.strictObject`); `shape` names them, for "did you mean". */
export interface Table<S extends Shape> extends Schema<{ [K in keyof TableOf<S>]: TableOf<S>[K] }> {
  readonly shape: S;
}

export function table<S extends Shape>(shape: S): Table<S> {
  const keys = Object.keys(shape);
  return {
    shape,
    check(input, path, issues) {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return invalidType(issues, path, input, 'object');
      const before = issues.length;
      const given = input as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const s = shape[key]!;
        const v = given[key];
        if (v === undefined && s.absent) {
          if (s.absent !== 'optional') out[key] = s.absent.default;
          continue;
        }
        // A missing key that must be there gets the schema's own issue for `undefined`, as zod reports it.
        const r = s.check(v, [...path, key], issues);
        if (r !== INVALID) out[key] = r;
      }
      const unknownKeys = Object.keys(given).filter((k) => !Object.hasOwn(shape, k));
      if (unknownKeys.length > 0) {
        const message = `Unrecognized key${unknownKeys.length > 1 ? 's' : ''}: ${unknownKeys.map((k) => JSON.stringify(k)).join(', ')}`;
        issues.push({ code: 'unrecognized_keys', path, input, keys: unknownKeys, message });
      }
      return issues.length > before ? INVALID : (out as never);
    },
  };
}

/** Every key of a table optional (zod's `.partial()`). */
export function partial<S extends Shape>(
  t: Table<S>,
): Table<{ [K in keyof S]: Schema<Output<S[K]> | undefined> & { absent: 'optional' } }> {
  const shape = Object.fromEntries(Object.entries(t.shape).map(([k, s]) => [k, { check: s.check, absent: 'optional' as const }]));
  return table(shape) as never;
}

/** Checks `input`: the value, or the issues (in zod's order). */
export function safeParse<T>(s: Schema<T>, input: unknown): { success: true; data: T } | { success: false; issues: Issue[] } {
  const issues: Issue[] = [];
  const data = s.check(input, [], issues);
  return data === INVALID || issues.length > 0 ? { success: false, issues } : { success: true, data };
}
