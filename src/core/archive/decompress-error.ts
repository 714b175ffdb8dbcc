/** The compressions the archive gate decodes. */
export type Compression = 'gzip' | 'xz' | 'zstd' | 'bzip2';

/**
 * A decompressor found its input damaged (`reason` 'corrupt'), or it asks for more memory than the
 * gate allows (`reason` 'window': a zstd window or xz dictionary past the limit). The gate turns it into
 * the format's message for that stage.
 */
export class DecompressError extends Error {
  constructor(
    readonly stage: Compression,
    detail: string,
    readonly reason: 'corrupt' | 'window' = 'corrupt',
  ) {
    super(detail);
  }
}
