/**
 * bin/larder.js turns V8's allocation-site pretenuring off before it compiles anything (issue 14), unless the
 * operator's own Node options name the setting; checked through bin/larder.js itself. Larder's launchers start
 * `larder serve` with the same Node options (SERVE_NODE_OPTIONS), and the build trains code caches for them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const flagsModule = path.resolve(import.meta.dirname, '../bin/v8-flags.js');
const larderBin = path.resolve(import.meta.dirname, '../bin/larder.js');
const root = path.resolve(import.meta.dirname, '..');
const { larderV8Flags, SERVE_NODE_OPTIONS } = createRequire(import.meta.url)(flagsModule) as {
  larderV8Flags(execArgv: string[], nodeOptions: string | undefined): string[];
  SERVE_NODE_OPTIONS: string[];
};

/** The V8 tag bin/larder.js names its code caches with, in a process started with these Node options. */
function cacheTag(nodeArgs: string[]): string {
  const run = spawnSync(
    process.execPath,
    [
      ...nodeArgs,
      '-e',
      `require(${JSON.stringify(flagsModule)}).applyLarderV8Flags(); console.log(require('node:v8').cachedDataVersionTag())`,
    ],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  expect(run.status).toBe(0);
  return run.stdout.trim();
}

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

describe('how Larder is launched', () => {
  it('every launcher starts larder serve with SERVE_NODE_OPTIONS, before the script', () => {
    expect(SERVE_NODE_OPTIONS).toEqual(['--max-semi-space-size=64']);
    const options = SERVE_NODE_OPTIONS.join(' ');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${options} bin/larder.js serve`);
    const unit = fs.readFileSync(path.join(root, 'docs/deploy/larder.service'), 'utf8');
    expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/node ${options} /opt/larder/bin/larder\\.js serve `, 'm'));
    const manifest = fs.readFileSync(path.join(root, 'docs/deploy/kubernetes.yaml'), 'utf8');
    expect(manifest).toContain(`command: ['node', ${SERVE_NODE_OPTIONS.map((o) => `'${o}'`).join(', ')}, '/opt/larder/bin/larder.js']`);
  });

  it("the build trained code caches for a start with the launchers' options and for plain node", () => {
    const packs = path.join(root, 'dist/bundle/packs');
    const caches = fs.readdirSync(packs).filter((f) => f.startsWith('serve.cjs.') && f.endsWith('.cache'));
    const plain = cacheTag([]);
    const launched = cacheTag(SERVE_NODE_OPTIONS);
    // The option is part of V8's flag hash: without a cache of its own such a start would compile from source.
    expect(launched).not.toBe(plain);
    expect(caches.filter((f) => f.endsWith(`.${plain}.cache`))).toHaveLength(1);
    expect(caches.filter((f) => f.endsWith(`.${launched}.cache`))).toHaveLength(1);
  });
});
