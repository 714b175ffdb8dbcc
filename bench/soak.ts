import type { BenchOptions } from './lib/args.js';
import type { BenchReport } from './lib/results.js';

/** soak: placeholder. */
export async function soak(_dir: string, _options: BenchOptions): Promise<BenchReport> {
  throw new Error('not yet');
}
