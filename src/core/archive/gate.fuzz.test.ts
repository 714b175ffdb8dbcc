/**
 * Property-based fuzzing of the archive gate itself: hostile tar, tar.gz and zip (odd names, links of
 * every kind, devices, corrupted headers, lying sizes, random bytes) under each format's profile of
 * options; hostile xz, zstd and bzip2 streams (mutated, truncated, concatenated) and tars inside them;
 * hostile ar archives. The gate returns or throws a 4xx LarderError, and what it lets through keeps its promises.
 */
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  arVariants,
  compressedVariants,
  fuzzParams,
  gz,
  Outcomes,
  returnsOrRefuses,
  tarVariants,
  zipVariants,
} from '../../../test/support/arbitraries.js';
import { tarball, type ArMember, type TarEntry, type ZipEntry } from '../../../test/support/archives.js';
import { ensureTools } from '../../../test/support/debian.js';
import { gateAr, gateMessages, gateTar, gateZip, type Compression, type GatedEntry, type GateOptions } from './index.js';

const ROOT = 'pkg-1.0';
const limits = { maxUnpackedSize: 256 * 1024, maxEntries: 40 };
const messages = gateMessages('the archive', 'rebuild it');
/** The profiles the formats use: Cargo (strict, no links, no duplicates), Bazel (prefix stripped), Julia (links inside). */
const PROFILES: Record<string, GateOptions> = {
  cargo: { limits, messages, root: ROOT, paths: 'strict', duplicates: 'reject' },
  bazel: { limits, messages, root: ROOT },
  julia: { limits, messages, symlinks: 'inside', hardlinks: 'inside', duplicates: 'reject' },
};
const TAR: TarEntry[] = [
  { name: `${ROOT}/`, type: 'directory' },
  { name: `${ROOT}/a.txt`, body: 'hello\n' },
  { name: `${ROOT}/sub/b.txt`, body: 'b', mode: 0o755 },
];
const ZIP: ZipEntry[] = [
  { name: `${ROOT}/a.txt`, data: Buffer.from('hello\n') },
  { name: `${ROOT}/sub/b.txt`, data: Buffer.from('b'), mode: 0o100755 },
];

/** Reads every body and checks what the gate promised about each entry; returns the entries. */
async function readChecked(run: (visit: (e: GatedEntry) => Promise<void>) => Promise<void>, options: GateOptions): Promise<GatedEntry[]> {
  const seen: GatedEntry[] = [];
  const paths = new Set<string>();
  let bytes = 0;
  await run(async (e) => {
    expect(e.parts.length).toBeGreaterThan(0);
    for (const part of e.parts) expect(['', '.', '..']).not.toContain(part);
    expect(e.path).not.toMatch(/[\\\0]|^\/|^[A-Za-z]:/);
    if (e.type === 'symlink' || e.type === 'link')
      expect(options[e.type === 'link' ? 'hardlinks' : 'symlinks'] ?? 'reject').not.toBe('reject');
    if (e.type === 'symlink') {
      const at = e.parts.slice(0, -1);
      for (const s of (e.linkname ?? '').split('/').filter((p) => p !== '' && p !== '.')) {
        if (s !== '..') at.push(s);
        else expect(at.pop(), `symlink ${e.path} -> ${e.linkname} leaves the root`).toBeDefined();
      }
    }
    if (options.duplicates === 'reject' && e.type !== 'directory') {
      expect(paths.has(e.path)).toBe(false);
      paths.add(e.path);
    }
    let n = 0;
    for await (const chunk of e.body) n += chunk.length;
    expect(n).toBe(e.size);
    bytes += n;
    seen.push(e);
  });
  expect(seen.length).toBeLessThanOrEqual(limits.maxEntries);
  expect(bytes).toBeLessThanOrEqual(limits.maxUnpackedSize);
  return seen;
}

describe('archive gate (fuzz)', () => {
  for (const [profile, options] of Object.entries(PROFILES)) {
    it(`${profile}: answers every hostile tar and tar.gz with checked entries or a 4xx LarderError`, async () => {
      const base = await tarball(TAR);
      const seen = new Outcomes();
      await fc.assert(
        fc.asyncProperty(tarVariants(base, TAR, ROOT), fc.boolean(), async (make, gzipped) => {
          const t = await make();
          const r = await returnsOrRefuses(() =>
            readChecked((visit) => gateTar(Readable.from([gzipped ? gz(t) : t]), { ...options, gzip: gzipped }, visit), options),
          );
          seen.record(r);
        }),
        fuzzParams(200),
      );
      seen.report(`gate tar (${profile})`);
      expect(seen.ok).toBeGreaterThan(0);
      expect(seen.refusals.size).toBeGreaterThan(5);
    });

    it(`${profile}: answers every hostile zip with checked entries or a 4xx LarderError`, async () => {
      const seen = new Outcomes();
      await fc.assert(
        fc.asyncProperty(zipVariants(ZIP, ROOT), async (zip) => {
          const r = await returnsOrRefuses(() => readChecked((visit) => gateZip(zip, options, visit), options));
          seen.record(r);
        }),
        fuzzParams(200),
      );
      seen.report(`gate zip (${profile})`);
      expect(seen.ok).toBeGreaterThan(0);
      expect(seen.refusals.size).toBeGreaterThan(3);
    });
  }

  const TOOLS = { xz: ['xz', '-1', '-c'], zstd: ['zstd', '-q', '-c'], bzip2: ['bzip2', '-1', '-c'] } as const;
  const squeeze = (c: Exclude<Compression, 'gzip'>, b: Buffer) => execFileSync(TOOLS[c][0], TOOLS[c].slice(1), { input: b });
  const bazel = PROFILES.bazel!;
  beforeAll(() => ensureTools(['xz', 'zstd', 'bzip2']));

  for (const c of ['xz', 'zstd', 'bzip2'] as const) {
    it(`answers every hostile ${c} stream with checked entries or a 4xx LarderError`, async () => {
      const valid = squeeze(c, await tarball(TAR));
      const seen = new Outcomes();
      await fc.assert(
        fc.asyncProperty(compressedVariants(valid), async (stream) => {
          const run = (visit: (e: GatedEntry) => Promise<void>) => gateTar(Readable.from([stream]), { ...bazel, compression: c }, visit);
          seen.record(await returnsOrRefuses(() => readChecked(run, bazel)));
        }),
        fuzzParams(150),
      );
      seen.report(`gate ${c}`);
      expect(seen.ok).toBeGreaterThan(0);
      expect(seen.refusals.size).toBeGreaterThan(1);
    });

    it(`answers every hostile tar inside a valid ${c} stream with checked entries or a 4xx LarderError`, async () => {
      const base = await tarball(TAR);
      const seen = new Outcomes();
      await fc.assert(
        fc.asyncProperty(tarVariants(base, TAR, ROOT), async (make) => {
          const stream = squeeze(c, await make());
          const run = (visit: (e: GatedEntry) => Promise<void>) => gateTar(Readable.from([stream]), { ...bazel, compression: c }, visit);
          seen.record(await returnsOrRefuses(() => readChecked(run, bazel)));
        }),
        fuzzParams(40),
      );
      seen.report(`gate tar.${c}`);
      expect(seen.ok).toBeGreaterThan(0);
      expect(seen.refusals.size).toBeGreaterThan(3);
    });
  }

  it('answers every hostile ar archive with checked entries or a 4xx LarderError', async () => {
    const valid: ArMember[] = [
      { name: 'debian-binary', data: '2.0\n' },
      { name: 'MODULE.bazel', data: 'module(name = "m")\n', mode: 0o755 },
    ];
    const options = { ...bazel, root: undefined };
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(arVariants(valid), async (ar) => {
        seen.record(await returnsOrRefuses(() => readChecked((visit) => gateAr(ar, options, visit), options)));
      }),
      fuzzParams(300),
    );
    seen.report('gate ar');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(5);
  });
});
