import { describe, expect, it } from 'vitest';
import { zstd } from '../../../test/support/brioche-archive.js';
import { unzstdBounded } from './zstd.js';

const LIMITS = { maxOutput: 1 << 20, maxWindow: 1 << 22 };

describe('bounded zstd', () => {
  it('decompresses what zstd wrote', async () => {
    const data = Buffer.from('brioche '.repeat(10_000));
    expect(unzstdBounded(await zstd(data), LIMITS, 'x')).toEqual(data);
  });

  it('refuses a bomb without inflating it, and a broken or truncated stream', async () => {
    const bomb = await zstd(Buffer.alloc(64 << 20), 19);
    expect(bomb.length).toBeLessThan(64 << 10);
    expect(() => unzstdBounded(bomb, { maxOutput: 1 << 20, maxWindow: 1 << 30 }, 'chunks/x.zst')).toThrow(
      /chunks\/x.zst (decompresses to more than 1048576|asks for a zstd window)/,
    );
    const ok = await zstd(Buffer.from('hello world, hello world'));
    expect(() => unzstdBounded(ok.subarray(0, ok.length - 3), LIMITS, 'x')).toThrow(/not a valid zstd stream/);
    expect(() => unzstdBounded(Buffer.from('not zstd at all'), LIMITS, 'x')).toThrow(/not a valid zstd stream/);
    expect(() => unzstdBounded(new Uint8Array(0), LIMITS, 'x')).toThrow(/empty/);
  });

  it('refuses a frame header that declares a huge window before allocating it', () => {
    // Magic, FHD = single segment + 4-byte content size, content size 2^31 - 1, then one empty raw last block.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00, 0x00]);
    expect(() => unzstdBounded(frame, LIMITS, 'x')).toThrow(/zstd window larger/);
  });
});
