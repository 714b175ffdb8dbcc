import type { LarderConfig, UnpackedLimits } from './types.js';

/**
 * How much one upload of `kind` may unpack to: its [unpacked_limits] key, else limits.max_unpacked_size.
 * Read at use, so a change of the global limit reaches every format that sets no limit of its own.
 */
export function unpackedLimit(config: Pick<LarderConfig, 'limits' | 'unpackedLimits'>, kind: keyof UnpackedLimits): number {
  return config.unpackedLimits[kind] ?? config.limits.maxUnpackedSize;
}
