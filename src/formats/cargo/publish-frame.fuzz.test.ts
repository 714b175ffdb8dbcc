/**
 * Property-based fuzzing of Cargo's publish parsers: the binary frame, the NewCrate metadata, the
 * .crate archive gate and the index-line validator each return or throw a 4xx LarderError, never
 * anything else, and never hang.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Outcomes,
  fuzzParams,
  gz,
  mutatedBytes,
  mutatedJson,
  mutatedJsonBytes,
  randomBytes,
  returnsOrRefuses,
  tarVariants,
} from '../../../test/support/arbitraries.js';
import { tarball, type TarEntry } from '../../../test/support/archives.js';
import { cargoToml, newCrateJson, newDep, publishBody, u32le } from '../../../test/support/cargo.js';
import { inspectCrateArchive } from './crate-archive.js';
import { indexLineFromNewCrate, validateIndexLine } from './index-line.js';
import { parseNewCrate } from './new-crate.js';
import { readPublishFrame } from './publish-frame.js';

const LIMITS = { maxMetadataSize: 16 * 1024, maxCrateSize: 64 * 1024 };
const ARCHIVE_LIMITS = { maxUnpackedSize: 256 * 1024, maxEntries: 50 };
const ROOT = 'fuzzed-1.0.0';
const VALID_ENTRIES: TarEntry[] = [
  { name: `${ROOT}/`, type: 'directory' },
  { name: `${ROOT}/Cargo.toml`, body: cargoToml('fuzzed', '1.0.0') },
  { name: `${ROOT}/src/lib.rs`, body: 'pub fn f() {}\n' },
];
const META = newCrateJson({
  name: 'fuzzed',
  vers: '1.0.0',
  deps: [newDep('serde', '^1', { features: ['derive'] })],
  features: { std: [], default: ['std'] },
});

/** Splits a body into random chunks, as a socket would deliver it. */
const chunked = (body: Buffer, cuts: number[]) => {
  const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let last = 0;
  for (const p of [...points, body.length]) {
    parts.push(body.subarray(last, p));
    last = p;
  }
  return Readable.from(parts.filter((p) => p.length > 0));
};

/** Reads a frame to its end the way the route does: metadata, the whole crate, then `done`. */
async function readWholeFrame(body: Buffer, cuts: number[], withLength: boolean) {
  const frame = await readPublishFrame(chunked(body, cuts), LIMITS, withLength ? body.length : undefined);
  parseNewCrate(frame.metadataJson);
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of frame.crate) chunks.push(c as Buffer);
  })();
  await Promise.all([collecting, frame.done]);
  expect(Buffer.concat(chunks).length).toBe(frame.crateLength);
}

describe('cargo publish frame (fuzz)', () => {
  it('answers every mutated or random frame with a result or a 4xx LarderError', async () => {
    const crate = await tarball(VALID_ENTRIES).then(gz);
    const valid = publishBody(META, crate);
    const lengthTweak = fc
      .tuple(
        fc.constantFrom(0, 4 + valid.readUInt32LE(0)),
        fc.constantFrom(
          0,
          1,
          0xffffffff,
          0x7fffffff,
          LIMITS.maxMetadataSize,
          LIMITS.maxMetadataSize + 1,
          LIMITS.maxCrateSize + 1,
          crate.length - 1,
          crate.length + 1,
        ),
      )
      .map(([at, n]) => Buffer.concat([valid.subarray(0, at), u32le(n >>> 0), valid.subarray(at + 4)]));
    const body = fc.oneof(mutatedBytes(valid), lengthTweak, randomBytes, fc.constant(valid));
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(body, fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), async (b, cuts, withLength) => {
        seen.record(await returnsOrRefuses(() => readWholeFrame(b, cuts, withLength)));
      }),
      fuzzParams(300),
    );
    seen.report('publish frame');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(3);
  });

  it('reads frames with JSON-mutated metadata the same as parseNewCrate does', async () => {
    const crate = await tarball(VALID_ENTRIES).then(gz);
    await fc.assert(
      fc.asyncProperty(mutatedJsonBytes(META), async (json) => {
        const direct = await returnsOrRefuses(() => parseNewCrate(json));
        const framed = await returnsOrRefuses(() => readWholeFrame(publishBody(json, crate), [], true));
        expect(framed.ok).toBe(direct.ok);
      }),
      fuzzParams(300),
    );
  });
});

describe('cargo index line (fuzz)', () => {
  it('a line built from any accepted metadata passes validateIndexLine; any mutated line validates or is refused with a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedJsonBytes(META), async (json) => {
        const parsed = await returnsOrRefuses(() => parseNewCrate(json));
        if (!parsed.ok) return;
        const line = indexLineFromNewCrate(parsed.value, 'a'.repeat(64), Date.UTC(2026, 0, 1), ['https://larder.test/cargo/index/']);
        expect(() => validateIndexLine(line)).not.toThrow();
      }),
      fuzzParams(300),
    );
    const good = JSON.parse(
      JSON.stringify(indexLineFromNewCrate(parseNewCrate(Buffer.from(JSON.stringify(META))), 'b'.repeat(64), 0, [])),
    ) as unknown;
    await fc.assert(
      fc.asyncProperty(mutatedJson(good), async (line) => {
        await returnsOrRefuses(() => validateIndexLine(line));
      }),
      fuzzParams(500),
    );
  });
});

describe('.crate archive gate (fuzz)', () => {
  it('answers every hostile .crate with its manifest or a 4xx LarderError', async () => {
    const base = await tarball(VALID_ENTRIES);
    const variant = fc.tuple(tarVariants(base, VALID_ENTRIES, ROOT), fc.constantFrom('gz', 'gz', 'raw', 'gz-mutated'), fc.nat());
    const seen = new Outcomes();
    await fc.assert(
      fc.asyncProperty(variant, async ([make, wrap, i]) => {
        let crate = await make();
        if (wrap !== 'raw') crate = gz(crate);
        if (wrap === 'gz-mutated' && crate.length > 0) {
          crate = Buffer.from(crate);
          crate[i % crate.length] ^= 0x5a;
        }
        seen.record(
          await returnsOrRefuses(() => inspectCrateArchive(Readable.from([crate]), { name: 'fuzzed', vers: '1.0.0' }, ARCHIVE_LIMITS)),
        );
      }),
      fuzzParams(300),
    );
    seen.report('.crate gate');
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refusals.size).toBeGreaterThan(8);
  });
});
