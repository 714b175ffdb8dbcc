/**
 * The gate's xz, zstd and bzip2 tar streams and its ar reader, on archives the system tools make: contents
 * byte-exact, bombs refused at the size and ratio limits before the rest is inflated, oversized windows and
 * dictionaries refused before anything is allocated, damaged and mislabelled streams named, hostile ar headers.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeAr, tarball } from '../../../test/support/archives.js';
import { ensureTools } from '../../../test/support/debian.js';
import { LarderError } from '../errors.js';
import { gateAr, gateMessages, gateTar, type Compression, type GateOptions } from './index.js';

// Fast levels keep the suite short; bzip2 -1 makes 100 kB blocks, so every archive here is several blocks.
const TOOLS: Record<Exclude<Compression, 'gzip'>, string[]> = {
  xz: ['xz', '-1', '-c'],
  zstd: ['zstd', '-q', '-c'],
  bzip2: ['bzip2', '-1', '-c'],
};
const compress = (c: Compression, data: Buffer, extra: string[] = []): Buffer =>
  c === 'gzip'
    ? execFileSync('gzip', ['-c'], { input: data, maxBuffer: 1 << 30 })
    : execFileSync(TOOLS[c][0]!, [...TOOLS[c].slice(1), ...extra], { input: data, maxBuffer: 1 << 30 });

const MiB = 1 << 20;
const options = (limits: Partial<GateOptions['limits']> = {}): GateOptions => ({
  limits: { maxEntries: 100, maxUnpackedSize: 64 * MiB, ...limits },
  messages: gateMessages('the archive', 'rebuild it'),
  root: 'pkg-1.0',
});

/** Every file the gate hands out, with its bytes, and how many bytes came out in all. */
async function read(archive: Buffer, compression: Compression | undefined, opts = options()) {
  const files = new Map<string, Buffer>();
  let bytes = 0;
  await gateTar(Readable.from([archive]), { ...opts, compression }, async (e) => {
    const chunks: Buffer[] = [];
    for await (const c of e.body) {
      chunks.push(c);
      bytes += c.length;
    }
    if (e.type === 'file') files.set(e.path, Buffer.concat(chunks));
  });
  return { files, bytes };
}

async function refusal(p: Promise<unknown>): Promise<LarderError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LarderError);
  return err as LarderError;
}

let tar: Buffer;
const big = randomBytes(MiB + 12345);
const FILES = {
  'MODULE.bazel': Buffer.from('module(name = "m", version = "1.0")\n'),
  'src/big.bin': big,
  'bin/run': Buffer.from('#!/bin/sh\n'),
};

beforeAll(async () => {
  ensureTools(['xz', 'zstd', 'bzip2', 'ar']);
  tar = await tarball([
    { name: 'pkg-1.0/', type: 'directory' },
    ...Object.entries(FILES).map(([name, body]) => ({ name: `pkg-1.0/${name}`, body, mode: name.startsWith('bin/') ? 0o755 : 0o644 })),
  ]);
});

describe.each(['xz', 'zstd', 'bzip2'] as const)('%s tar streams', (c) => {
  it('hand out every file byte-exact', async () => {
    const { files } = await read(compress(c, tar), c);
    expect([...files.keys()].sort()).toEqual(Object.keys(FILES).sort());
    for (const [name, data] of Object.entries(FILES)) expect(files.get(name)!.equals(data), name).toBe(true);
  });

  it('read concatenated streams and multi-block streams on', async () => {
    const half = Math.floor(tar.length / 2);
    const joined = Buffer.concat([compress(c, tar.subarray(0, half)), compress(c, tar.subarray(half))]);
    const { files } = await read(joined, c);
    expect(files.get('src/big.bin')!.equals(big)).toBe(true);
  });

  it('refuse a bomb at the size limit, having inflated little more than the limit', async () => {
    const zeros = await tarball([{ name: 'pkg-1.0/zeros', body: Buffer.alloc(16 * MiB) }]);
    const bomb = compress(c, zeros);
    expect(bomb.length).toBeLessThan(64 * 1024);
    let seen = 0;
    const err = await refusal(
      gateTar(Readable.from([bomb]), { ...options({ maxUnpackedSize: 4 * MiB }), compression: c }, async (e) => {
        for await (const chunk of e.body) seen += chunk.length;
      }),
    );
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toMatch(/unpacks to more than 4 MiB/);
    expect(seen).toBe(0); // the declared size already exceeds the limit: nothing of it is handed out
  });

  it('refuse a stream past the ratio rule though under the size limit', async () => {
    const zeros = await tarball(Array.from({ length: 8 }, (_, i) => ({ name: `pkg-1.0/z${i}`, body: Buffer.alloc(1.5 * MiB) })));
    const err = await refusal(read(compress(c, zeros), c, options({ maxUnpackedSize: 512 * MiB, maxRatio: 50 })));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
  });

  it('name a damaged, truncated or mislabelled stream', async () => {
    const good = compress(c, tar);
    const truncated = await refusal(read(good.subarray(0, good.length - 1000), c));
    expect(truncated.code).toBe('ARCHIVE_INVALID');
    expect(truncated.message).toMatch(new RegExp(`${c} stream|tar archive|ended before`));
    const flipped = Buffer.from(good);
    for (let i = 200; i < 400; i++) flipped[i] ^= 0x55;
    expect((await refusal(read(flipped, c))).code).toBe('ARCHIVE_INVALID');
    const other = await refusal(read(compress('gzip', tar), c));
    expect(other.message).toMatch(new RegExp(`is not ${c}-compressed \\(it must start with bytes`));
    expect((await refusal(read(Buffer.alloc(0), c))).code).toBe('ARCHIVE_INVALID');
  });
});

describe('memory limits of the decoders', () => {
  it('refuses a zstd frame asking for a window above 128 MiB before allocating it', async () => {
    const frame = compress('zstd', Buffer.from('hello'), ['--no-content-size']);
    // Frame header descriptor without single-segment: the window descriptor is the byte after it.
    expect(frame[4]! & 0x20).toBe(0);
    const huge = Buffer.from(frame);
    huge[5] = (31 - 10) << 3; // 2 GiB
    const err = await refusal(read(huge, 'zstd'));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toMatch(/window, more than the 128 MiB/);
  });

  it('stops a zstd stream declaring 12 GiB in RLE blocks (4 bytes each for 128 KiB) at the limit', async () => {
    // A frame of a 128 KiB window, a tar header, then 100,000 RLE blocks of 128 KiB zeros: 400 kB in, 12 GiB out.
    const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3]);
    const tarHeader = (await tarball([{ name: 'pkg-1.0/zeros', body: Buffer.alloc(0) }])).subarray(0, 512);
    const raw = Buffer.alloc(3);
    raw.writeUIntLE((512 << 3) | 0, 0, 3); // raw block, 512 bytes
    const rle = Buffer.alloc(4);
    rle.writeUIntLE(((128 * 1024) << 3) | (1 << 1), 0, 3); // RLE block of 128 KiB, byte 0
    const blocks = Buffer.concat(Array.from({ length: 100_000 }, () => rle));
    const bomb = Buffer.concat([header, raw, tarHeader, blocks]);
    let out = 0;
    const err = await refusal(
      gateTar(Readable.from([bomb]), { ...options({ maxUnpackedSize: 8 * MiB, maxEntries: 10 }), compression: 'zstd' }, async (e) => {
        for await (const chunk of e.body) out += chunk.length;
      }),
    );
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(out).toBeLessThanOrEqual(8 * MiB);
  });

  it('refuses an xz block asking for a dictionary above 64 MiB', async () => {
    const xz = Buffer.from(compress('xz', Buffer.from('hello'), ['--check=crc32']));
    const headerSize = (xz[12]! + 1) * 4;
    expect(xz[14]).toBe(0x21); // LZMA2 filter, its dictionary byte at 16
    xz[16] = 36; // 1 GiB
    xz.writeUInt32LE(crc32(xz.subarray(12, 12 + headerSize - 4)), 12 + headerSize - 4);
    const err = await refusal(read(xz, 'xz'));
    expect(err.code).toBe('ARCHIVE_TOO_LARGE');
    expect(err.message).toMatch(/dictionary is larger than the 64 MiB/);
  });

  it('lets other xz streams through after one was given up (the decoder lock is released)', async () => {
    const xz = compress('xz', tar);
    const err = await refusal(
      gateTar(Readable.from([xz]), { ...options(), compression: 'xz' }, () => {
        throw new LarderError('ARCHIVE_INVALID', 'visitor gives up');
      }),
    );
    expect(err.message).toBe('visitor gives up');
    const { files } = await read(xz, 'xz');
    expect(files.get('src/big.bin')!.equals(big)).toBe(true);
  });
});

describe('ar archives', () => {
  const arOptions = (): GateOptions => ({ ...options(), root: undefined });
  async function readAr(ar: Buffer) {
    const files = new Map<string, { data: Buffer; mode: number }>();
    await gateAr(ar, arOptions(), async (e) => {
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c);
      files.set(e.path, { data: Buffer.concat(chunks), mode: e.mode });
    });
    return files;
  }

  it('reads what GNU ar writes, long names and odd sizes included, byte-exact', async () => {
    const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/larder-ar-');
    try {
      const members = { 'MODULE.bazel': FILES['MODULE.bazel'], 'a-rather-long-member-name.txt': Buffer.from('odd'), 'big.bin': big };
      for (const [name, data] of Object.entries(members)) writeFileSync(`${dir}/${name}`, data);
      execFileSync('ar', ['rc', `${dir}/out.ar`, ...Object.keys(members)], { cwd: dir });
      const files = await readAr(readFileSync(`${dir}/out.ar`));
      expect([...files.keys()]).toEqual(Object.keys(members));
      for (const [name, data] of Object.entries(members)) expect(files.get(name)!.data.equals(data), name).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads BSD long names', async () => {
    const files = await readAr(
      makeAr(
        [
          { name: 'MODULE.bazel', data: 'x' },
          { name: 'b', data: 'yy', mode: 0o755 },
        ],
        'bsd',
      ),
    );
    expect(files.get('MODULE.bazel')!.data.toString()).toBe('x');
    expect(files.get('b')!.mode).toBe(0o755);
  });

  it('refuses hostile headers clearly', async () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('!<thin>\n'), /thin archive/],
      [Buffer.from('PK\x03\x04 not ar'), /does not start with "!<arch>"/],
      [makeAr([{ name: 'a', data: 'x', declaredSize: '99999' }]), /claims 99999 bytes/],
      [makeAr([{ name: 'a', data: 'x', declaredSize: '-1' }]), /size that is not a decimal number/],
      [makeAr([{ name: '../evil', data: 'x' }], 'bsd'), /\.\." component/],
      [makeAr([{ name: '/etc/passwd', data: 'x' }], 'bsd'), /absolute path/],
      [
        Buffer.concat([Buffer.from('!<arch>\n'), Buffer.from('/99'.padEnd(48) + '1'.padEnd(10) + '`\n'), Buffer.from('x\n')]),
        /long-name table/,
      ],
      [makeAr([{ name: '', data: 'symbols' }]), /symbol table/],
      [Buffer.concat([makeAr([{ name: 'a', data: 'x' }]), Buffer.from('short')]), /cut short/],
    ];
    for (const [ar, message] of cases) {
      const err = await refusal(readAr(ar));
      expect(err.code, message.source).toBe('ARCHIVE_INVALID');
      expect(err.message).toMatch(message);
    }
  });

  it('counts members and sizes against the limits', async () => {
    const many = makeAr(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: 'x' })));
    const err = await refusal(gateAr(many, { ...arOptions(), limits: { maxEntries: 3, maxUnpackedSize: MiB } }, () => undefined));
    expect(err.message).toMatch(/more than 3 entries/);
    const large = makeAr([{ name: 'f', data: Buffer.alloc(2 * MiB) }]);
    expect((await refusal(gateAr(large, { ...arOptions(), limits: { maxEntries: 3, maxUnpackedSize: MiB } }, () => undefined))).code).toBe(
      'ARCHIVE_TOO_LARGE',
    );
  });
});
