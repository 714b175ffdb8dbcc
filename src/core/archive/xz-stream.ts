/**
 * Streaming xz decompression with xz-decompress (xz-embedded compiled to WebAssembly, shipped inside the
 * package). It hands out 64 KiB at a time and refuses dictionaries above 64 MiB (xz -9's size), so memory
 * stays bounded. Its one WebAssembly instance decodes one stream at a time (a lock inside the package): a
 * stream given up early is cancelled here, or every later xz archive would wait for it forever.
 */
import { ReadableStream } from 'node:stream/web';
import { importCjs } from '../cjs.js';
import { DecompressError } from './decompress-error.js';

/** xz-embedded's return codes (xz.h), for messages. */
const XZ_ERRORS: Record<string, string> = {
  '2': 'unsupported integrity check',
  '3': 'out of memory',
  '4': 'its dictionary is larger than the 64 MiB this registry decodes',
  '5': 'not an xz stream',
  '6': 'unsupported options (filter or header flags)',
  '7': 'damaged data',
  '8': 'the stream ends early',
};

/** Decompresses an xz stream (concatenated streams are read on, as xz itself does). */
export async function* unxz(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // Loaded with the first xz archive, not at every start (its WebAssembly is compiled on first use).
  const { XzReadableStream } = await importCjs(import('xz-decompress'));
  const iterator = source[Symbol.asyncIterator]();
  const input = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await iterator.next();
        if (done) controller.close();
        else if (value.length) controller.enqueue(value);
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  const reader = (
    new XzReadableStream(input as unknown as globalThis.ReadableStream<Uint8Array>) as ReadableStream<Uint8Array>
  ).getReader();
  let settled = false;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (err) {
        settled = true; // an errored stream has released the lock already
        const code = /error code (\d+)/.exec((err as Error).message)?.[1];
        // Anything else comes from the package's own JavaScript meeting an input that ended at once.
        const detail = code ? (XZ_ERRORS[code] ?? `error ${code}`) : 'the stream ends early';
        throw new DecompressError('xz', detail, code === '4' ? 'window' : 'corrupt');
      }
      if (step.done) {
        settled = true;
        return;
      }
      if (step.value.length) yield Buffer.from(step.value.buffer, step.value.byteOffset, step.value.length);
    }
  } finally {
    if (!settled) await reader.cancel().catch(() => undefined);
  }
}
