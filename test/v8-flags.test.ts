/**
 * bin/larder.js turns V8's allocation-site pretenuring off before it compiles anything (issue 14), unless the
 * operator's own Node options name the setting; and Node takes the setting at run time.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const flagsModule = path.resolve(import.meta.dirname, '../bin/v8-flags.js');
const { larderV8Flags } = createRequire(import.meta.url)(flagsModule) as {
  larderV8Flags(execArgv: string[], nodeOptions: string | undefined): string[];
};

/** Object literals kept alive through several young-generation collections: V8 reports its pretenuring decisions. */
const WORKLOAD =
  'let keep = []; const make = (i) => ({ a: i, b: [i] }); for (let i = 0; i < 1e6; i++) { keep.push(make(i)); if (keep.length > 300000) keep = []; }';

/** The lines V8's pretenuring statistics print for the workload, after `setup` ran. */
function pretenuringLines(setup: string): number {
  const run = spawnSync(process.execPath, ['--trace-pretenuring-statistics', '-e', `${setup}\n${WORKLOAD}`], { encoding: 'utf8' });
  expect(run.status).toBe(0);
  return run.stdout.split('\n').filter((line) => line.includes('pretenuring:')).length;
}

describe('V8 flags of bin/larder.js', () => {
  it('turns pretenuring off by default, and leaves it to Node options that name it', () => {
    expect(larderV8Flags([], undefined)).toEqual(['--no-allocation-site-pretenuring']);
    expect(larderV8Flags(['--max-semi-space-size=64'], '--enable-source-maps')).toEqual(['--no-allocation-site-pretenuring']);
    expect(larderV8Flags(['--allocation-site-pretenuring'], '')).toEqual([]);
    expect(larderV8Flags([], '--max-old-space-size=4096 --allocation_site_pretenuring')).toEqual([]);
  });

  it('takes effect when set at run time: no object literal is pretenured any more', () => {
    expect(pretenuringLines('')).toBeGreaterThan(0);
    expect(pretenuringLines(`require(${JSON.stringify(flagsModule)}).applyLarderV8Flags();`)).toBe(0);
  });
});
