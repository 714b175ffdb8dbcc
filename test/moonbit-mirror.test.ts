/**
 * `larder mirror` of a MoonBit proxy, with the CLI a user runs: patterns and globs (`moonbitlang/*`),
 * dependencies by default, `--strict`, `--full`; then an offline proxy serves what was mirrored (the
 * git index and the zips) with the upstream gone.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { FORMATS } from '../src/cli/context.js';
import { loadConfig } from '../src/core/config.js';
import { archiveUrlPath } from '../src/formats/moonbit/names.js';
import { gitHistoryDir, syncGitHistory } from '../src/registry/git-history/build.js';
import { openRegistry } from '../src/registry/registry.js';
import { larder } from './support/cli.js';
import { startMoonbitUpstream, type MoonbitUpstream } from './support/moonbit-upstream.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A working directory whose larder.toml has one offline MoonBit proxy of `upstream`. */
function workdir(upstream: string): { cwd: string; data: string; args: string[] } {
  const dir = tempDir('larder-moon-mirror-');
  cleanups.push(() => dir.remove());
  fs.writeFileSync(
    path.join(dir.path, 'larder.toml'),
    `[outbound]\nallow_private = ["127.0.0.1"]\n\n[[repos]]\nname = "mooncakes"\nformat = "moonbit"\nkind = "proxy"\nupstream = "${upstream}"\noffline = true\n`,
  );
  const data = path.join(dir.path, 'data');
  return { cwd: dir.path, data, args: ['--data', data] };
}

/** An upstream with two moonbitlang modules, alice/json → alice/utf8, and bob/other nobody asks for. */
async function upstream(): Promise<MoonbitUpstream> {
  const up = await startMoonbitUpstream();
  cleanups.push(() => up.close());
  up.module('moonbitlang/x', '0.1.0');
  up.module('moonbitlang/x', '0.2.0', { deps: { 'moonbitlang/core': '0.1.0' } });
  up.module('moonbitlang/x/nested', '0.1.0');
  up.module('alice/json', '0.1.0', { deps: { 'alice/utf8': '0.1.0', 'moonbitlang/core': '0.1.0' } });
  up.module('alice/utf8', '0.1.0', { deps: null });
  up.module('bob/other', '1.0.0');
  await up.commit();
  return up;
}

const zipHits = (up: MoonbitUpstream) => up.files.requests.filter((r) => r.path.endsWith('.zip')).map((r) => decodeURIComponent(r.path));

describe('larder mirror of a MoonBit proxy', () => {
  it('mirrors globs strictly, names with their dependencies, and then serves them offline with the upstream stopped', async () => {
    const up = await upstream();
    const { cwd, data, args } = workdir(up.url);

    const strict = await larder(cwd, ['mirror', 'mooncakes', 'moonbitlang/*', '--strict', ...args]);
    expect(strict.code, strict.stderr).toBe(0);
    expect(strict.stdout).toMatch(/mirrored 2 package\(s\) and 3 artifact\(s\) into "mooncakes"/);
    expect(zipHits(up).sort()).toEqual([
      '/user/moonbitlang/x/0.1.0.zip',
      '/user/moonbitlang/x/0.2.0.zip',
      '/user/moonbitlang/x/nested/0.1.0.zip',
    ]);

    const deps = await larder(cwd, ['mirror', 'mooncakes', 'alice/json', ...args]);
    expect(deps.code, deps.stderr).toBe(0);
    // alice/utf8 comes as a dependency; moonbitlang/core is never fetched (moon never downloads it).
    expect(deps.stdout).toMatch(/mirrored 2 package\(s\) and 2 artifact\(s\) into "mooncakes" in [\d.]+ s: 2 artifact\(s\) fetched/);
    expect(up.files.hits(`/${archiveUrlPath('alice/utf8', '0.1.0')}`)).toBe(1);

    const missing = await larder(cwd, ['mirror', 'mooncakes', 'nobody/x', ...args]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: package nobody\/x: not found at the upstream/m);

    // Offline, with the upstream gone: what was mirrored is served, the rest is not fetched.
    await up.close();
    const config = loadConfig({ cwd, env: {}, overrides: { data } });
    const registry = await openRegistry(config, FORMATS);
    try {
      const source = registry.sources.get('mooncakes')!;
      expect((await source.artifact('alice/json/0.1.0'))?.size).toBeGreaterThan(0);
      expect((await source.artifact('moonbitlang/x/nested/0.1.0'))?.size).toBeGreaterThan(0);
      expect(await source.artifact('bob/other/1.0.0')).toBeNull();
      const doc = await source.doc('user/alice/json.index');
      expect(doc?.stale).toBe(false);
      const { ref, stale } = await source.gitHistory('index');
      expect(stale).toBe(false);
      const bare = await syncGitHistory(registry.db, { ...ref, dir: gitHistoryDir(registry.config.data, ref) });
      const checkout = path.join(cwd, 'checkout');
      await run('git', ['clone', '-q', '--depth', '1', '--single-branch', '--no-tags', `file://${bare}`, checkout]);
      expect(fs.readFileSync(path.join(checkout, 'user/alice/json.index')).equals(doc!.body)).toBe(true);
      expect(fs.existsSync(path.join(checkout, 'user/moonbitlang/x/nested.index'))).toBe(true);
    } finally {
      await registry.close();
    }
  });

  it('mirrors everything the upstream index lists with --full', async () => {
    const up = await upstream();
    const { cwd, args } = workdir(up.url);
    const full = await larder(cwd, ['mirror', 'mooncakes', '--full', ...args]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/mirrored 5 package\(s\) and 6 artifact\(s\)/);
    expect(zipHits(up)).toHaveLength(6);
    const again = await larder(cwd, ['mirror', 'mooncakes', '--full', ...args]);
    expect(again.stdout).toContain('0 artifact(s) fetched (0 B), 6 already stored');
  });
});
