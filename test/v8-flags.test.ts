/**
 * bin/larder.js turns V8's allocation-site pretenuring off before it compiles anything (issue 14), unless the
 * operator's own Node options name the setting; checked through bin/larder.js itself.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const flagsModule = path.resolve(import.meta.dirname, '../bin/v8-flags.js');
const larderBin = path.resolve(import.meta.dirname, '../bin/larder.js');
const { larderV8Flags } = createRequire(import.meta.url)(flagsModule) as {
  larderV8Flags(execArgv: string[], nodeOptions: string | undefined): string[];
};

/**
 * Object literals kept alive through several young-generation collections, made as the process exits (after
 * bin/larder.js has set its flags): V8 reports its pretenuring decisions for them.
 */
const WORKLOAD =
  "process.on('exit', () => { let keep = []; const make = (i) => ({ a: i, b: [i] }); for (let i = 0; i < 1e6; i++) { keep.push(make(i)); if (keep.length > 300000) keep = []; } });";

/** The pretenuring decisions V8 prints for the workload in `larder --help`, started with these Node options. */
function pretenuringLines(nodeArgs: string[]): number {
  const run = spawnSync(
    process.execPath,
    [
      ...nodeArgs,
      '--trace-pretenuring-statistics',
      '--import',
      `data:text/javascript,${encodeURIComponent(WORKLOAD)}`,
      larderBin,
      '--help',
    ],
    { encoding: 'utf8' },
  );
  expect(run.status).toBe(0);
  expect(run.stdout).toContain('Usage: larder');
  return run.stdout.split('\n').filter((line) => line.includes('pretenuring:')).length;
}

describe('V8 flags of bin/larder.js', () => {
  it('turns pretenuring off by default, and leaves it to Node options that name it', () => {
    expect(larderV8Flags([], undefined)).toEqual(['--no-allocation-site-pretenuring']);
    expect(larderV8Flags(['--max-semi-space-size=64'], '--enable-source-maps')).toEqual(['--no-allocation-site-pretenuring']);
    expect(larderV8Flags(['--allocation-site-pretenuring'], '')).toEqual([]);
    expect(larderV8Flags([], '--max-old-space-size=4096 --allocation_site_pretenuring')).toEqual([]);
  });

  it('a larder process pretenures no object literal, unless its Node options ask for it', () => {
    expect(pretenuringLines([])).toBe(0);
    // The same workload does print decisions when the operator turns pretenuring back on: the check above can fail.
    expect(pretenuringLines(['--allocation-site-pretenuring'])).toBeGreaterThan(0);
  });
});
