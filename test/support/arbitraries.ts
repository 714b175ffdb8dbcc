/**
 * Shared fast-check generators for the fuzz tests (`*.fuzz.test.ts`, test/fuzz-*.test.ts): byte-level
 * mutations, tar/zip archives with hostile headers, JSON/TOML/Starlark mutations; and the properties'
 * common checks (a LarderError with a 4xx status or success, within a time limit).
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { stringify as tomlStringify } from 'smol-toml';
import { expect } from 'vitest';
import { LarderError } from '../../src/core/errors.js';
import { makeAr, tarball, type ArMember, type TarEntry, makeZip, type ZipEntry } from './archives.js';

// ---------------------------------------------------------------------------------------------
// Run settings

/**
 * fast-check parameters for one property: `runs` (scaled by FUZZ_RUNS_SCALE), FUZZ_SEED to replay a
 * failure (fast-check prints the seed and path), and a time cap so a slow machine shortens the run.
 */
export function fuzzParams(runs: number, timeLimitMs = 8_000): fc.Parameters<unknown> {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: Math.max(1, Math.round(runs * scale)),
    ...(seed === undefined ? {} : { seed }),
    ...(path === undefined ? {} : { path }),
    // CI machines are slower and busier; there a property may take longer rather than stop short.
    interruptAfterTimeLimit: timeLimitMs * scale * (process.env.CI ? 3 : 1),
    markInterruptAsFailure: false,
    endOnFailure: true,
  };
}

// ---------------------------------------------------------------------------------------------
// The properties' checks

/** Rejects with a plain Error when `p` has not settled within `ms` (a hang is a finding). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `fn`: it must return, or throw a LarderError with a 4xx status, within `ms` (anything else,
 * such as a TypeError, a hang or a long synchronous stall, fails the test). Returns the value, or the LarderError.
 */
export async function returnsOrRefuses<T>(
  fn: () => T | Promise<T>,
  ms = 5_000,
): Promise<{ ok: true; value: T } | { ok: false; error: LarderError }> {
  const start = performance.now();
  // A timer cannot interrupt synchronous work: time it too, so a parser that blocks the event loop fails.
  const inTime = () => expect(performance.now() - start, `the parser took ${Math.round(performance.now() - start)} ms`).toBeLessThan(ms);
  try {
    const value = await within(Promise.resolve().then(fn), ms, 'the parser');
    inTime();
    return { ok: true, value };
  } catch (err) {
    inTime();
    if (!(err instanceof LarderError)) throw err;
    expect(err.status, `${err.code}: ${err.message}`).toBeGreaterThanOrEqual(400);
    expect(err.status, `${err.code}: ${err.message}`).toBeLessThan(500);
    return { ok: false, error: err };
  }
}

/**
 * Tallies a property's outcomes (successes, refusals by code and message start) so a test can
 * assert that its generator reaches both the accepting and the refusing paths. FUZZ_VERBOSE=1 prints them.
 */
export class Outcomes {
  ok = 0;
  readonly refusals = new Map<string, number>();

  record(r: { ok: boolean; error?: LarderError } | { statusCode: number; body: string }): void {
    if ('statusCode' in r) {
      if (r.statusCode < 300) this.ok++;
      else this.add(`${r.statusCode} ${r.body.replace(/[0-9a-f]{16,}|\d+/g, '#').slice(0, 60)}`);
    } else if (r.ok) this.ok++;
    else this.add(`${r.error!.code} ${r.error!.message.replace(/\d+/g, '#').slice(0, 50)}`);
  }

  private add(key: string): void {
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
  }

  /** Prints the tally when FUZZ_VERBOSE is set. */
  report(what: string): void {
    if (!process.env.FUZZ_VERBOSE) return;
    const lines = [...this.refusals].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${n}\t${k}`);
    console.log(`${what}: ${this.ok} accepted, ${this.refusals.size} kinds of refusal\n${lines.join('\n')}`);
  }
}

/** Asserts an HTTP answer is a success or a client error (never a 5xx). */
export function expectNot5xx(res: { statusCode: number; body: string }, what: string): void {
  expect(res.statusCode, `${what} answered ${res.statusCode}: ${res.body.slice(0, 500)}`).toBeLessThan(500);
}

// ---------------------------------------------------------------------------------------------
// Bytes

type Mutation = (b: Buffer) => Buffer;

const interestingByte = fc.constantFrom(0x00, 0x01, 0x20, 0x2f, 0x2e, 0x30, 0x37, 0x7f, 0x80, 0xff);

/** One byte-level change: flip a bit, set a byte, truncate, delete, insert, duplicate a range. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([i, bit]): Mutation => (b) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[i % c.length] ^= 1 << bit;
    return c;
  }),
  fc.tuple(fc.nat(), fc.oneof(interestingByte, fc.integer({ min: 0, max: 255 }))).map(([i, v]): Mutation => (b) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[i % c.length] = v;
    return c;
  }),
  fc.nat().map(
    (i): Mutation =>
      (b) =>
        b.subarray(0, b.length === 0 ? 0 : i % b.length),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 600 })).map(([i, n]): Mutation => (b) => {
    if (b.length === 0) return b;
    const at = i % b.length;
    return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([i, ins]): Mutation => (b) => {
    const at = b.length === 0 ? 0 : i % (b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(ins), b.subarray(at)]);
  }),
  fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 1024 })).map(([i, j, n]): Mutation => (b) => {
    if (b.length === 0) return b;
    const from = i % b.length;
    const at = j % b.length;
    return Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
  }),
);

/** `base` with one to four byte-level mutations. */
export function mutatedBytes(base: Buffer): fc.Arbitrary<Buffer> {
  return fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => ms.reduce((b, m) => m(b), base));
}

/** Random bytes, mostly short, sometimes with a recognisable magic number in front. */
export const randomBytes: fc.Arbitrary<Buffer> = fc
  .tuple(fc.constantFrom('', '\x1f\x8b', 'PK\x03\x04', '{', '\x1f\x8b\x08\x00'), fc.uint8Array({ maxLength: 2048 }))
  .map(([magic, rest]) => Buffer.concat([Buffer.from(magic, 'latin1'), Buffer.from(rest)]));

// ---------------------------------------------------------------------------------------------
// Tar

/** Entry names that have broken archive readers: traversal, absolute, NUL, very long, unicode, odd dots. */
export const oddName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '..',
    '../x',
    'a/../../x',
    '/etc/passwd',
    '/',
    './',
    '.',
    'a//b',
    'a/./b',
    'a\\..\\b',
    'C:/x',
    'a\0b',
    'x\0',
    '.git/config',
    'a/.git/HEAD',
    'é/ü.txt',
    '\u202e.txt',
    'ﬁle',
    '\ud83d\ude00',
    '\n',
    'a\nb',
    ' ',
    'a/',
    '//',
    '.git',
    '.gitignore',
    'MODULE.bazel',
    'Project.toml',
    'Cargo.toml',
    'src',
    'src/lib.rs',
  ),
  fc.integer({ min: 90, max: 400 }).map((n) => 'd/'.repeat(Math.floor(n / 4)) + 'x'.repeat((n % 300) + 1)),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.array(fc.constantFrom('a', 'b', '..', '.', '', 'src', '.git', 'x.txt'), { minLength: 1, maxLength: 5 }).map((p) => p.join('/')),
);

const entryType = fc.constantFrom<NonNullable<TarEntry['type']>>(
  'file',
  'file',
  'file',
  'directory',
  'symlink',
  'link',
  'character-device',
  'block-device',
  'fifo',
  'contiguous-file',
);

/** One tar entry under `root` (or at an odd name), of any type, mode and small body. */
export function tarEntry(root: string, names: fc.Arbitrary<string> = oddName): fc.Arbitrary<TarEntry> {
  return fc
    .record({
      name: fc.oneof(
        names.map((n) => `${root}/${n}`),
        names,
        fc.constantFrom(`${root}/a.txt`, `${root}/sub/b.txt`, `${root}/`),
      ),
      type: entryType,
      mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o777, 0),
      // Targets that escape, and ones that stay inside (relative to the link, or the archive top for hardlinks).
      linkname: fc.oneof(
        oddName,
        fc.constant('../../../../etc/passwd'),
        fc.constant('/'),
        fc.constantFrom(`${root}/a.txt`, 'a.txt', '../a.txt', 'sub/../a.txt', '..'),
      ),
      body: fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      ),
    })
    .map(({ body, ...e }) => (e.type === 'file' || e.type === 'contiguous-file' ? { ...e, body } : e));
}

const TAR_FIELDS: Array<[offset: number, length: number]> = [
  [0, 100],
  [100, 8],
  [108, 8],
  [116, 8],
  [124, 12],
  [136, 12],
  [156, 1],
  [157, 100],
  [257, 6],
  [263, 2],
  [329, 8],
  [337, 8],
  [345, 155],
];
const fieldValue = fc.oneof(
  fc.constantFrom(
    '77777777777',
    '99999999999',
    '-1',
    '',
    '\0',
    ' ',
    '0',
    '7',
    '1',
    '2',
    '3',
    '4',
    '5',
    '6',
    'g',
    'x',
    'L',
    'K',
    'S',
    'Z',
    '../../x',
    '/abs',
    'ustar',
    'ustar\0',
    '00',
    '\x80\0\0\0\xff\xff\xff\xff\xff\xff\xff',
    '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff',
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 12 }),
);

/** Header block offsets of an uncompressed tar (follows declared sizes; stops at the end blocks). */
export function tarHeaderOffsets(t: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + 512 <= t.length;) {
    const block = t.subarray(o, o + 512);
    if (block.every((x) => x === 0)) break;
    out.push(o);
    const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) break;
    o += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Writes a valid checksum into the tar header at `o`, so a corrupted field gets past the checksum test. */
export function fixTarChecksum(t: Buffer, o: number): void {
  t.fill(0x20, o + 148, o + 156);
  let sum = 0;
  for (let i = o; i < o + 512; i++) sum += t[i];
  t.write(`${sum.toString(8).padStart(6, '0')}\0 `, o + 148, 'latin1');
}

/** An uncompressed tar with header fields overwritten (names, modes, sizes, type flags, magic), checksums usually fixed. */
export function corruptedTar(base: Buffer): fc.Arbitrary<Buffer> {
  const edit = fc.record({ header: fc.nat(), field: fc.nat({ max: TAR_FIELDS.length - 1 }), value: fieldValue, fix: fc.boolean() });
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const t = Buffer.from(base);
    for (const { header, field, value, fix } of edits) {
      const offsets = tarHeaderOffsets(t);
      if (offsets.length === 0) break;
      const o = offsets[header % offsets.length];
      const [at, len] = TAR_FIELDS[field];
      t.fill(0, o + at, o + at + len);
      t.write(value.slice(0, len), o + at, 'latin1');
      if (fix || field !== 0) fixTarChecksum(t, o);
    }
    return t;
  });
}

/** A tar whose header declares `size` bytes but carries few: the "huge declared size" case. */
export function hugeDeclaredSize(base: Buffer): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.nat(), fc.constantFrom(0o77777777777, 0o7777777, 2 ** 31, 600 * 1024 * 1024, 513)).map(([i, size]) => {
    const t = Buffer.from(base);
    const offsets = tarHeaderOffsets(t);
    if (offsets.length === 0) return t;
    const o = offsets[i % offsets.length];
    t.write(`${size.toString(8).padStart(11, '0')}\0`, o + 124, 'latin1');
    fixTarChecksum(t, o);
    return t;
  });
}

/**
 * The ways a tar is broken, given a valid tar `base` and entries to mix in: extra hostile entries
 * (packed by tar-stream), corrupted header fields, huge declared sizes, byte mutations, random bytes.
 * Returns an uncompressed tar; wrap with `gz` for tar.gz.
 */
export function tarVariants(base: Buffer, valid: TarEntry[], root: string): fc.Arbitrary<() => Promise<Buffer>> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(fc.array(tarEntry(root), { minLength: 1, maxLength: 4 }), fc.nat()).map(([extra, at]) => () => {
        const entries = [...valid];
        for (const e of extra) entries.splice(at % (entries.length + 1), 0, e);
        return tarball(entries);
      }),
    },
    { weight: 3, arbitrary: corruptedTar(base).map((b) => () => Promise.resolve(b)) },
    { weight: 1, arbitrary: hugeDeclaredSize(base).map((b) => () => Promise.resolve(b)) },
    { weight: 2, arbitrary: mutatedBytes(base).map((b) => () => Promise.resolve(b)) },
    { weight: 1, arbitrary: randomBytes.map((b) => () => Promise.resolve(b)) },
  );
}

/** gzip, fast. */
export function gz(b: Buffer): Buffer {
  return gzipSync(b, { level: 1 });
}

// ---------------------------------------------------------------------------------------------
// Zip (makeZip and ZipEntry live in archives.ts; re-exported for the fuzz tests)

export { makeZip, type ZipEntry };

/** Hostile zip entries under `root`: odd names, symlinks, devices, lying sizes and CRCs. */
export function zipEntry(root: string): fc.Arbitrary<ZipEntry> {
  return fc.record(
    {
      name: fc.oneof(
        oddName.map((n) => `${root}/${n}`),
        oddName,
      ),
      data: fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
      mode: fc.constantFrom(0o100644, 0o100755, 0o120777, 0o40755, 0o20644, 0o10644, 0o140755, 0),
      declaredSize: fc.option(fc.constantFrom(0, 1, 0xffffffff, 600 * 1024 * 1024), { nil: undefined }),
      badCrc: fc.boolean(),
    },
    { requiredKeys: ['name', 'data'] },
  );
}

/** Broken zips: a valid tree plus hostile entries, and byte mutations of a valid zip. */
export function zipVariants(valid: ZipEntry[], root: string): fc.Arbitrary<Buffer> {
  const base = makeZip(valid);
  return fc.oneof(
    fc.tuple(fc.array(zipEntry(root), { minLength: 1, maxLength: 4 }), fc.nat()).map(([extra, at]) => {
      const entries = [...valid];
      for (const e of extra) entries.splice(at % (entries.length + 1), 0, e);
      return makeZip(entries);
    }),
    mutatedBytes(base),
    randomBytes,
  );
}

// ---------------------------------------------------------------------------------------------
// Compressed streams (xz, zstd, bzip2: no JS compressor here, so the valid streams come from the system tools)

/**
 * Broken compressed streams from a valid one: byte mutations (headers, block sizes, checksums), truncations,
 * the valid stream twice or followed by junk, random bytes.
 */
export function compressedVariants(valid: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: mutatedBytes(valid) },
    { weight: 2, arbitrary: fc.nat().map((n) => valid.subarray(0, n % (valid.length + 1))) },
    { weight: 1, arbitrary: fc.constant(Buffer.concat([valid, valid])) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((junk) => Buffer.concat([valid, Buffer.from(junk)])) },
    { weight: 1, arbitrary: randomBytes },
  );
}

// ---------------------------------------------------------------------------------------------
// Ar

/** Hostile ar members: odd names (BSD long names carry any bytes), lying sizes, odd modes. */
export const arMember: fc.Arbitrary<ArMember> = fc.record(
  {
    name: fc.oneof(oddName, fc.constantFrom('MODULE.bazel', 'debian-binary', 'data.tar.xz', 'a/b', '', '/', '//')),
    data: fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
    mode: fc.constantFrom(0o644, 0o755, 0o7777, 0o120777, 0),
    declaredSize: fc.option(fc.constantFrom('0', '1', '-1', '9999999999', 'abc', '1e3', ' 12'), { nil: undefined }),
  },
  { requiredKeys: ['name'] },
);

/** Broken ar archives: valid members plus hostile ones (GNU or BSD names), byte mutations, random bytes. */
export function arVariants(valid: ArMember[]): fc.Arbitrary<Buffer> {
  const base = makeAr(valid);
  return fc.oneof(
    fc
      .tuple(fc.array(arMember, { minLength: 1, maxLength: 4 }), fc.nat(), fc.constantFrom('gnu' as const, 'bsd' as const))
      .map(([extra, at, style]) => {
        const members = [...valid];
        for (const e of extra) members.splice(at % (members.length + 1), 0, e);
        return makeAr(members, style);
      }),
    mutatedBytes(base),
    mutatedBytes(makeAr(valid, 'bsd')),
    randomBytes.map((b) => Buffer.concat([Buffer.from('!<arch>\n'), b])),
  );
}

// ---------------------------------------------------------------------------------------------
// JSON

/** Values of the wrong type, or at the edges of their type. */
export const weirdJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    -0,
    1e308,
    -1e308,
    2 ** 53 + 1,
    1.5,
    '',
    ' ',
    '\0',
    '..',
    '/',
    'x'.repeat(5000),
    [],
    {},
    [null],
    { '': null },
    '__proto__',
  ),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
);

type JsonPath = Array<string | number>;

function jsonPaths(v: unknown, at: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) jsonPaths(x, [...at, k], out);
  return out;
}

function setAt(v: unknown, p: JsonPath, f: (old: unknown) => unknown | typeof DELETE): unknown {
  if (p.length === 0) {
    const r = f(v);
    return r === DELETE ? undefined : r;
  }
  const [head, ...rest] = p;
  if (Array.isArray(v)) {
    const c = [...v];
    const r = setAt(c[head as number], rest, f);
    if (rest.length === 0 && f === deleteIt) c.splice(head as number, 1);
    else c[head as number] = r;
    return c;
  }
  const c = { ...(v as Record<string, unknown>) };
  if (rest.length === 0 && f === deleteIt) delete c[head as string];
  else c[head as string] = setAt(c[head as string], rest, f);
  return c;
}
const DELETE = Symbol('delete');
const deleteIt = () => DELETE;

/** `base` with one to three changes at random paths: a value of the wrong type, a key deleted or added. */
export function mutatedJson(base: unknown): fc.Arbitrary<unknown> {
  const paths = jsonPaths(base);
  const op = fc.tuple(fc.nat(), fc.constantFrom('replace', 'replace', 'delete', 'add'), weirdJson, fc.string({ maxLength: 12 }));
  return fc.array(op, { minLength: 1, maxLength: 3 }).map((ops) => {
    let v = base;
    for (const [i, kind, value, key] of ops) {
      const p = paths[i % paths.length];
      if (kind === 'replace') v = setAt(v, p, () => value);
      else if (kind === 'delete' && p.length > 0) v = setAt(v, p, deleteIt);
      else
        v = setAt(v, p, (old) =>
          old !== null && typeof old === 'object' && !Array.isArray(old)
            ? { ...old, [key]: value }
            : Array.isArray(old)
              ? [...old, value]
              : old,
        );
    }
    return v;
  });
}

/** Bytes of `base` after JSON-level mutations, sometimes also byte-level ones (broken JSON). */
export function mutatedJsonBytes(base: unknown): fc.Arbitrary<Buffer> {
  const text = mutatedJson(base).map((v) => Buffer.from(JSON.stringify(v) ?? 'undefined'));
  return fc.oneof(
    { weight: 4, arbitrary: text },
    { weight: 1, arbitrary: mutatedBytes(Buffer.from(JSON.stringify(base))) },
    { weight: 1, arbitrary: randomBytes },
  );
}

// ---------------------------------------------------------------------------------------------
// TOML

/** A TOML document of `base` with JSON-level mutations (wrong types, missing and extra keys), or with text-level damage. */
export function mutatedToml(base: Record<string, unknown>): fc.Arbitrary<string> {
  const structured = mutatedJson(base).map((v) => {
    try {
      // TOML has no null: leave it out, and keep the root a table.
      const clean = JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x === null ? undefined : x))) as unknown;
      return tomlStringify(clean !== null && typeof clean === 'object' && !Array.isArray(clean) ? clean : { value: clean });
    } catch {
      return tomlStringify(base);
    }
  });
  const text = tomlStringify(base);
  const damaged = fc.oneof(
    mutatedBytes(Buffer.from(text)).map((b) => b.toString('utf8')),
    fc
      .tuple(
        fc.nat(),
        fc.constantFrom(
          '[',
          ']',
          '"',
          "'''",
          '"""',
          '=',
          '\n',
          '#',
          '\\u0000',
          '\\',
          '[[x]]\n',
          'name = 1\n',
          '[deps]\n',
          '\0',
          '\ud800',
          '99999999999999999999999',
          'inf',
          'nan',
          '1979-05-27T07:32:00Z',
        ),
      )
      .map(([i, tok]) => {
        const at = i % (text.length + 1);
        return text.slice(0, at) + tok + text.slice(at);
      }),
  );
  return fc.oneof({ weight: 3, arbitrary: structured }, { weight: 2, arbitrary: damaged });
}

// ---------------------------------------------------------------------------------------------
// Starlark (MODULE.bazel)

const STARLARK_TOKEN =
  /"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[0-9]+|\s+|./gy;
const POOL = [
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '=',
  '==',
  '.',
  ':',
  '+',
  '*',
  '**',
  '-',
  '\n',
  ' ',
  '\t',
  '#',
  '\\',
  '\\\n',
  '"',
  "'",
  '"""',
  "'''",
  'module',
  'bazel_dep',
  'name',
  'version',
  'compatibility_level',
  'bazel_compatibility',
  'dev_dependency',
  'True',
  'False',
  'None',
  'VERSION',
  'VERSION = "1.0.0"\n',
  'load',
  'use_extension',
  'lambda',
  'if',
  'for',
  'in',
  'def',
  '0',
  '-1',
  '99999999999999999999999999',
  '0x10',
  '1e9',
  '"x"',
  '"1.0.0"',
  '"\\x00"',
  '"\\u0000"',
  '"\\N{x}"',
  '"\\777"',
  'r"\\"',
  '["a", 1]',
  '[]',
  '{"a": 1}',
  '"a" + "b"',
  '"é"',
  'module(name = "x", version = "1.0")\n',
];

/** MODULE.bazel text after token-level mutations: tokens dropped, duplicated, swapped, or replaced from a pool of Starlark pieces. */
export function mutatedStarlark(base: string): fc.Arbitrary<string> {
  const tokens = base.match(STARLARK_TOKEN) ?? [base];
  const op = fc.tuple(
    fc.constantFrom('drop', 'dup', 'swap', 'insert', 'replace'),
    fc.nat(),
    fc.nat(),
    fc.oneof(fc.constantFrom(...POOL), fc.string({ maxLength: 6 })),
  );
  return fc.array(op, { minLength: 1, maxLength: 5 }).map((ops) => {
    const t = [...tokens];
    for (const [kind, i, j, tok] of ops) {
      const a = i % Math.max(1, t.length);
      const b = j % Math.max(1, t.length);
      if (kind === 'drop') t.splice(a, 1);
      else if (kind === 'dup') t.splice(a, 0, t[a] ?? '');
      else if (kind === 'swap') [t[a], t[b]] = [t[b], t[a]];
      else if (kind === 'insert') t.splice(a, 0, tok);
      else t[a] = tok;
    }
    return t.join('');
  });
}
