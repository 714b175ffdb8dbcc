import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { array, boolean, int, oneOf, optional, parsed, partial, safeParse, string, table, union, withDefault } from './shape.js';

const bad = (v: string) => {
  if (v === 'bad') throw new Error('bad!');
  return v.toUpperCase();
};

/** The same schema both ways: this module's, and zod 4's, which it stands in for. */
const ours = partial(
  table({
    s: string(),
    m: string({ min: 1 }),
    i: int({ min: 1, max: 5 }),
    b: boolean(),
    e: oneOf(['x', 'y'] as const),
    a: array(parsed(string(), bad), { min: 1 }),
    w: union(int({ min: 1, max: 256 }), oneOf(['auto'] as const)),
    t: table({ n: string(), k: withDefault(oneOf(['p', 'q'] as const), 'p'), o: optional(boolean()) }),
  }),
);
const zods = z
  .strictObject({
    s: z.string(),
    m: z.string().min(1),
    i: z.int().min(1).max(5),
    b: z.boolean(),
    e: z.enum(['x', 'y']),
    a: z
      .array(
        z.string().transform((v, ctx) => {
          try {
            return bad(v);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return z.NEVER;
          }
        }),
      )
      .min(1),
    w: z.union([z.int().min(1).max(256), z.literal('auto')]),
    t: z.strictObject({ n: z.string(), k: z.enum(['p', 'q']).default('p'), o: z.boolean().optional() }),
  })
  .partial();

const VALUES: unknown[] = [
  '',
  'x',
  'bad',
  'auto',
  'p',
  0,
  1,
  3,
  6,
  300,
  1.5,
  2 ** 60,
  -(2 ** 60),
  NaN,
  Infinity,
  true,
  null,
  [],
  ['a'],
  ['a', 'bad', 3],
  {},
  new Date(0),
];

describe('table schemas', () => {
  it('give what zod 4 gives, issue for issue and value for value', () => {
    const inputs: unknown[] = [null, [], 'str', new Date(0), {}, { zz: 1, s: 2, yy: 3 }, { toString: 1 }];
    for (const key of Object.keys(ours.shape)) for (const v of VALUES) inputs.push({ [key]: v });
    for (const v of VALUES) inputs.push({ t: { n: v } }, { t: { k: v, n: 'x' } }, { t: { o: v, n: 'x', extra: v } });
    for (const input of inputs) {
      const theirs = zods.safeParse(input, { reportInput: true });
      const mine = safeParse(ours, input);
      const label = JSON.stringify(input);
      expect(mine.success, label).toBe(theirs.success);
      if (mine.success && theirs.success) expect(mine.data, label).toEqual(theirs.data);
      if (!mine.success && !theirs.success) {
        const fields = (i: object) => {
          const { code, path, input: got, message, ...rest } = i as Record<string, unknown>;
          const keep = ['expected', 'values', 'minimum', 'maximum', 'keys', 'origin'].filter((k) => k in rest);
          return { code, path, input: got, message, ...Object.fromEntries(keep.map((k) => [k, rest[k]])) };
        };
        expect(mine.issues.map(fields), label).toEqual(theirs.error.issues.map(fields));
      }
    }
  });
});
