/**
 * zstd decompression with bounded memory for objects clients upload: a few bytes of zstd can
 * declare a 2 GiB window or inflate to gigabytes, so frame headers are checked before fzstd
 * allocates anything and the output is counted block by block (fzstd hands out ≤ 128 KiB at a time).
 */
import { Decompress } from 'fzstd';
import { fail } from '../../core/errors.js';

const ZSTD_MAGIC = 0xfd2fb528;

/** The window sizes of every frame in `bytes` (skippable frames skipped); throws on a malformed frame layout. */
function frameWindows(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const windows: number[] = [];
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new Error('truncated frame');
  };
  while (at < bytes.length) {
    need(4);
    const magic = view.getUint32(at, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      need(8);
      at += 8 + view.getUint32(at + 4, true);
      need(0);
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new Error('not a zstd frame');
    at += 4;
    need(1);
    const fhd = bytes[at++]!;
    const single = (fhd >> 5) & 1;
    const fcsFlag = fhd >> 6;
    const dictSize = [0, 1, 2, 4][fhd & 3]!;
    let window = 0;
    if (!single) {
      need(1);
      const wd = bytes[at++]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    at += dictSize;
    const fcsSize = fcsFlag === 0 ? single : 1 << fcsFlag;
    need(fcsSize);
    let fcs = 0;
    for (let i = fcsSize - 1; i >= 0; i--) fcs = fcs * 256 + bytes[at + i]!;
    if (fcsSize === 2) fcs += 256;
    at += fcsSize;
    windows.push(single ? fcs : window);
    for (;;) {
      need(3);
      const h = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
      at += 3;
      const type = (h >> 1) & 3;
      if (type === 3) throw new Error('reserved block type');
      at += type === 1 ? 1 : h >>> 3;
      need(0);
      if (h & 1) break;
    }
    if ((fhd >> 2) & 1) at += 4;
    need(0);
  }
  return windows;
}

/**
 * Decompresses a whole zstd stream into memory, refusing (ARCHIVE_TOO_LARGE) one that would
 * produce more than `maxOutput` bytes or needs a window larger than `maxWindow`, and
 * (ARCHIVE_INVALID) a broken one, naming `what`; nothing past the limit is ever inflated.
 */
export function unzstdBounded(bytes: Uint8Array, limits: { maxOutput: number; maxWindow: number }, what: string): Buffer {
  let windows: number[];
  try {
    windows = frameWindows(bytes);
  } catch (err) {
    fail('ARCHIVE_INVALID', `${what} is not a valid zstd stream (${(err as Error).message}); nothing was stored`);
  }
  if (windows.length === 0) fail('ARCHIVE_INVALID', `${what} is empty: it must be a zstd stream; nothing was stored`);
  if (windows.some((w) => w > limits.maxWindow))
    fail('ARCHIVE_TOO_LARGE', `${what} asks for a zstd window larger than ${limits.maxWindow} bytes; nothing was stored`);
  const parts: Uint8Array[] = [];
  let size = 0;
  const tooLarge = new Error('too large');
  const stream = new Decompress((data) => {
    size += data.length;
    if (size > limits.maxOutput) throw tooLarge;
    // fzstd reuses nothing it hands out, but copy anyway: the window buffer may be a view.
    parts.push(data.slice());
  });
  try {
    stream.push(bytes, true);
  } catch (err) {
    if (err === tooLarge) fail('ARCHIVE_TOO_LARGE', `${what} decompresses to more than ${limits.maxOutput} bytes; nothing was stored`);
    fail('ARCHIVE_INVALID', `${what} is not a valid zstd stream (${(err as Error).message}); nothing was stored`);
  }
  return Buffer.concat(parts, size);
}
