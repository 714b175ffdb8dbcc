/**
 * Streaming bzip2 decompression with the pure-JS block decoder of unbzip2-stream (its lib/bzip2.js; the
 * package's own stream wrapper collects a block's output byte by byte in an array and ignores
 * backpressure, so it is not used). A bzip2 block is decoded whole and synchronously: one block holds at
 * most 900 kB before its run-length stage, ~46 MB after, so memory stays bounded by one block; the gate's
 * budget stops a bomb after at most one block past the limit. Concatenated streams (pbzip2) are read on.
 */
import { importCjs } from '../cjs.js';
import { DecompressError } from './decompress-error.js';

/** The block decoder's interface (unbzip2-stream/lib/bzip2.js). */
interface Bzip2Lib {
  /** Reads "BZh1".."BZh9"; returns the block size in 100 kB units. */
  header(bits: BitReader): number;
  /** Decodes one block, calling `out` per byte; returns the running stream CRC, or null at the end-of-stream marker. */
  decompress(bits: BitReader, out: (byte: number) => void, buf: Int32Array, size: number, crc: number | null): number | null;
}
type BitReader = (n: number | null) => number | undefined;

/** More compressed bytes than one block can take (the heuristic unbzip2-stream uses, with room). */
const blockInput = (blockSize: number) => 100_000 * blockSize + 25_000;
const OUT_CHUNK = 64 * 1024;

class NeedMore extends Error {}

/** Decompresses a bzip2 stream (or several concatenated), yielding one block's output at a time. */
export async function* unbzip2(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const lib = await importCjs(import('unbzip2-stream/lib/bzip2.js' as string) as Promise<Bzip2Lib>);
  let pending = Buffer.alloc(0);
  let ended = false;
  /** Read position: byte offset into `pending` and bit offset within that byte. */
  let byte = 0;
  let bit = 0;
  const bits: BitReader = (n) => {
    if (n === null) {
      if (bit !== 0) {
        bit = 0;
        byte++;
      }
      return undefined;
    }
    let result = 0;
    while (n > 0) {
      if (byte >= pending.length) throw new NeedMore();
      const left = 8 - bit;
      const cur = pending[byte]!;
      if (n >= left) {
        result = (result << left) | (cur & ((1 << left) - 1));
        bit = 0;
        byte++;
        n -= left;
      } else {
        result = (result << n) | ((cur >> (left - n)) & ((1 << n) - 1));
        bit += n;
        n = 0;
      }
    }
    return result;
  };
  const iterator = source[Symbol.asyncIterator]();
  /** Reads until `want` unread bytes are held or the input ended. */
  const fill = async (want: number) => {
    // Chunks are joined once per call, not once per chunk (a block is ~900 kB of 64 KiB chunks).
    const parts: Buffer[] = [pending.subarray(byte)];
    let have = parts[0]!.length;
    while (!ended && have < want) {
      const { done, value } = await iterator.next();
      if (done) ended = true;
      else {
        parts.push(value);
        have += value.length;
      }
    }
    if (parts.length > 1) {
      pending = Buffer.concat(parts, have);
      byte = 0;
    }
  };

  let blockSize = 0;
  let crc: number | null = null;
  let streams = 0;
  const buf = { size: 0, data: new Int32Array(0) };
  for (;;) {
    if (blockSize === 0) {
      await fill(4);
      if (pending.length - byte === 0 && ended && streams > 0) return;
      const at = [byte, bit] as const;
      try {
        blockSize = lib.header(bits);
      } catch (err) {
        if (err instanceof NeedMore)
          throw new DecompressError('bzip2', streams ? 'damaged data after the end of the stream' : 'the stream ends early');
        [byte, bit] = at;
        throw new DecompressError('bzip2', streams ? 'data after the end of the stream is not bzip2' : 'not a bzip2 stream');
      }
      streams++;
      crc = 0;
      if (buf.size !== 100_000 * blockSize) buf.data = new Int32Array((buf.size = 100_000 * blockSize));
      continue;
    }
    await fill(blockInput(blockSize));
    const start = [byte, bit] as const;
    const chunks: Buffer[] = [];
    let chunk = Buffer.allocUnsafe(OUT_CHUNK);
    let used = 0;
    const out = (b: number) => {
      if (used === OUT_CHUNK) {
        chunks.push(chunk);
        chunk = Buffer.allocUnsafe(OUT_CHUNK);
        used = 0;
      }
      chunk[used++] = b;
    };
    try {
      crc = lib.decompress(bits, out, buf.data, buf.size, crc);
    } catch (err) {
      // The decoder's own messages are jokes ("meow i'm a kitty…"): only a checksum mismatch is worth naming.
      if (!(err instanceof NeedMore))
        throw new DecompressError(
          'bzip2',
          /crc32/.test((err as Error)?.message ?? '') ? 'a block checksum does not match' : 'damaged data',
        );
      if (ended) throw new DecompressError('bzip2', 'the stream ends early');
      // A block larger than the heuristic: read on and decode it again from its start.
      [byte, bit] = start;
      await fill(pending.length - byte + blockInput(blockSize));
      continue;
    }
    if (used) chunks.push(chunk.subarray(0, used));
    if (crc === null) blockSize = 0; // end-of-stream marker: another stream may follow
    // Drop what was read (keeping the byte the reader is inside of).
    if (byte > 0) {
      pending = pending.subarray(byte);
      byte = 0;
    }
    yield* chunks;
    if (blockSize === 0 && ended && pending.length === 0) return;
  }
}
