import { configDefaults, defineConfig } from 'vitest/config';
import SlowFirstSequencer from './test/support/sequencer.js';

/** Files that bound latencies (under load, or of a cached answer): they run after the others, one at a time. */
const ALONE = ['test/julia-stalls.test.ts', 'test/bazel-stalls.test.ts', 'src/formats/julia/proxy.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        extends: true,
        // Two files at a time: most real-process tests wait on servers, git, cargo or health checks, so a
        // second file uses the time one spends waiting (Vitest's default on 2 cores is one file at a time).
        test: {
          name: 'larder',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...ALONE],
          maxWorkers: 2,
        },
      },
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
