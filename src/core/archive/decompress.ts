/**
 * The decompressors of the archive gate, as pipeline stages: gzip (node:zlib, off the event loop), xz
 * (WebAssembly), zstd and bzip2 (pure JS). Each is preceded by a magic-bytes check so a mislabelled
 * archive gets a clear message, and followed by the gate's budget (size and ratio, see tar.ts).
 */
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { unbzip2 } from './bzip2-stream.js';
import type { Compression } from './decompress-error.js';
import { unxz } from './xz-stream.js';
import { unzstd } from './zstd-stream.js';

export { DecompressError, type Compression } from './decompress-error.js';

/** The first bytes each compression starts with (zstd may also start with a skippable frame). */
const MAGIC: Record<Compression, { bytes: number[][]; shown: string }> = {
  gzip: { bytes: [[0x1f, 0x8b]], shown: '1f 8b' },
  xz: { bytes: [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]], shown: 'fd 37 7a 58 5a 00' },
  zstd: {
    bytes: [
      [0x28, 0xb5, 0x2f, 0xfd],
      [0x50, 0x2a, 0x4d, 0x18],
    ],
    shown: '28 b5 2f fd',
  },
  bzip2: { bytes: [[0x42, 0x5a, 0x68]], shown: '42 5a 68 ("BZh")' },
};

/** The magic bytes of `compression` as a message shows them. */
export function magicOf(compression: Compression): string {
  return MAGIC[compression].shown;
}

/** A pipeline stage that inflates `compression`; errors of xz, zstd and bzip2 are DecompressErrors. */
export function decompressor(compression: Compression): Transform | ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>) {
  switch (compression) {
    case 'gzip':
      return createGunzip();
    case 'xz':
      return unxz;
    case 'zstd':
      return (source) => unzstd(source);
    case 'bzip2':
      return unbzip2;
  }
}

/** Fails unless the stream starts with the magic bytes of `compression` (zstd: the low nibble of a skippable frame's magic varies). */
export function magicCheck(compression: Compression, wrong: () => Error): Transform {
  const candidates = MAGIC[compression].bytes;
  const need = Math.max(...candidates.map((c) => c.length));
  const matches = (seen: Buffer) =>
    candidates.some((c, i) =>
      c.every((b, k) => (compression === 'zstd' && i === 1 && k === 0 ? (seen[k]! & 0xf0) === 0x50 : seen[k] === b)),
    );
  let head: Buffer | null = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (head === null) return callback(null, chunk);
      const seen: Buffer = Buffer.concat([head, chunk]);
      if (seen.length < need) {
        head = seen;
        return callback();
      }
      head = null;
      callback(matches(seen) ? null : wrong(), seen);
    },
    flush(callback) {
      callback(head === null ? null : wrong());
    },
  });
}
