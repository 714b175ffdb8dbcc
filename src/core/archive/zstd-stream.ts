/**
 * Streaming zstd decompression with bounded memory (fzstd, pure JS). fzstd allocates a frame's whole
 * window when it reads the frame header and hands out one block per push only if it is given one block
 * per push, so a small scanner walks the frame layout first: it refuses a window above the limit before
 * fzstd sees the header, and feeds fzstd exactly one complete block at a time (≤ 128 KiB out per push).
 */
import { Decompress } from 'fzstd';
import { DecompressError } from './decompress-error.js';

const ZSTD_MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024;

/** What zstd itself decodes without `--memory` (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27), and Bazel's zstd-jni too. */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/** Decompresses a zstd stream (one or more frames, skippable frames skipped), yielding at most one block per step. */
export async function* unzstd(source: AsyncIterable<Buffer>, maxWindow = MAX_ZSTD_WINDOW): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const decoder = new Decompress((chunk) => {
    // fzstd may hand out a view of its window, which the next block overwrites.
    if (chunk.length) out.push(Buffer.from(chunk));
  });
  const push = (bytes: Uint8Array, final = false) => {
    try {
      decoder.push(bytes, final);
    } catch (err) {
      throw new DecompressError('zstd', (err as Error).message);
    }
  };
  const scanner = new FrameScanner(maxWindow);
  let frames = 0;
  for await (const chunk of source) {
    scanner.add(chunk);
    for (let unit = scanner.next(); unit; unit = scanner.next()) {
      if (unit.frameStart) frames++;
      if (unit.bytes.length) push(unit.bytes);
      if (out.length) yield* out.splice(0);
    }
  }
  scanner.end();
  if (frames === 0) throw new DecompressError('zstd', 'no zstd frame');
  push(new Uint8Array(0), true);
  yield* out.splice(0);
}

const maxWindowShown = (n: number) => (n % (1 << 20) === 0 ? `${n / (1 << 20)} MiB` : `${n} bytes`);

/** The next piece to hand to fzstd: a frame header, one block, or a frame's checksum. */
interface Unit {
  bytes: Uint8Array;
  frameStart?: true;
}

/** Walks zstd frames as bytes arrive, checking windows and block headers; keeps at most one block of input. */
class FrameScanner {
  private pending: Buffer = Buffer.alloc(0);
  /** `frame`: expecting a frame (or skippable frame) header; `block`: a block header; `checksum`: 4 bytes; `skip`: skippable content. */
  private state: 'frame' | 'block' | 'checksum' | 'skip' = 'frame';
  private skipLeft = 0;
  private checksum = false;
  /** Bytes of a frame header at the front of `pending`, handed over with the frame's first block. */
  private carry = 0;

  constructor(private readonly maxWindow: number) {}

  add(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
  }

  /** Fails when the input ended inside a frame. */
  end(): void {
    if (this.state !== 'frame' || this.pending.length > 0) throw new DecompressError('zstd', 'the stream ends inside a frame');
  }

  next(): Unit | null {
    const p = this.pending;
    switch (this.state) {
      case 'skip': {
        const n = Math.min(this.skipLeft, p.length);
        this.take(n);
        this.skipLeft -= n;
        if (this.skipLeft === 0) this.state = 'frame';
        return n > 0 || this.skipLeft === 0 ? { bytes: new Uint8Array(0) } : null;
      }
      case 'checksum':
        if (p.length < 4) return null;
        this.state = 'frame';
        return { bytes: this.take(4) };
      case 'block': {
        const at = this.carry;
        if (p.length < at + 3) return null;
        const h = p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16);
        const type = (h >> 1) & 3;
        const size = h >>> 3;
        if (type === 3) throw new DecompressError('zstd', 'reserved block type');
        if (size > MAX_BLOCK) throw new DecompressError('zstd', 'block larger than 128 KiB');
        const length = at + 3 + (type === 1 ? 1 : size);
        if (p.length < length) return null;
        if (h & 1) this.state = this.checksum ? 'checksum' : 'frame';
        this.carry = 0;
        return { bytes: this.take(length), ...(at > 0 ? { frameStart: true as const } : {}) };
      }
      case 'frame': {
        if (p.length < 4) return null;
        const magic = p.readUInt32LE(0);
        if ((magic & 0xfffffff0) === 0x184d2a50) {
          if (p.length < 8) return null;
          this.skipLeft = p.readUInt32LE(4);
          this.take(8);
          this.state = 'skip';
          return { bytes: new Uint8Array(0) };
        }
        if (magic !== ZSTD_MAGIC) throw new DecompressError('zstd', 'not a zstd frame');
        if (p.length < 5) return null;
        const fhd = p[4]!;
        if (fhd & 8) throw new DecompressError('zstd', 'reserved frame header bit set');
        const single = (fhd >> 5) & 1;
        const fcsFlag = fhd >> 6;
        const dictSize = [0, 1, 2, 4][fhd & 3]!;
        const fcsSize = fcsFlag === 0 ? single : 1 << fcsFlag;
        const length = 5 + (single ? 0 : 1) + dictSize + fcsSize;
        if (p.length < length) return null;
        let window: number;
        if (single) {
          let fcs = 0;
          for (let i = fcsSize - 1; i >= 0; i--) fcs = fcs * 256 + p[length - fcsSize + i]!;
          window = fcsSize === 2 ? fcs + 256 : fcs;
        } else {
          const wd = p[5]!;
          const base = 2 ** (10 + (wd >> 3));
          window = base + (base / 8) * (wd & 7);
        }
        if (window > this.maxWindow)
          throw new DecompressError(
            'zstd',
            `a frame asks for a ${window}-byte window, more than the ${maxWindowShown(this.maxWindow)} this registry decodes`,
            'window',
          );
        this.checksum = ((fhd >> 2) & 1) === 1;
        this.state = 'block';
        this.carry = length;
        return this.next();
      }
    }
  }

  private take(n: number): Buffer {
    const head = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return head;
  }
}
