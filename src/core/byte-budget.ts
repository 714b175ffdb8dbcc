import { Transform } from 'node:stream';

/**
 * A pass-through that fails with `tooLarge()` as soon as more than `max` bytes have passed:
 * put after an inflater, it stops a decompression bomb at the limit, not at the end.
 */
export function byteBudget(max: number, tooLarge: () => Error): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      callback(total > max ? tooLarge() : null, chunk);
    },
  });
}
