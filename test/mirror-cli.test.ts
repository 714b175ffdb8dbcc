import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cargoFormat } from '../src/formats/cargo/index.js';
import { larder } from './support/cli.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { tempDir } from './support/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A working directory with a larder.toml holding `repos` (TOML text) and a data dir. */
function workdir(repos: string): { cwd: string; args: string[] } {
  const dir = tempDir('larder-mirror-cli-');
  cleanups.push(() => dir.remove());
  fs.writeFileSync(path.join(dir.path, 'larder.toml'), `[outbound]\nallow_private = ["127.0.0.1"]\n\n${repos}`);
  return { cwd: dir.path, args: ['--data', path.join(dir.path, 'data')] };
}

/** The sparse index path of a crate name (`se/rd/serde`, `3/a/abc`, `1/a`). */
function indexPath(name: string): string {
  if (name.length <= 2) return `${name.length}/${name}`;
  if (name.length === 3) return `3/${name[0]}/${name}`;
  return `${name.slice(0, 2)}/${name.slice(2, 4)}/${name}`;
}

/** A crates.io-like upstream: config.json, index files, .crate downloads at `{dl}/{crate}/{version}/download`. */
async function fakeCratesIo(crates: Record<string, { versions: string[]; deps?: string[] }>): Promise<FakeUpstream> {
  const up = await startFakeUpstream();
  cleanups.push(() => up.close());
  up.set('/config.json', { body: JSON.stringify({ dl: `${up.url}/api/v1/crates`, api: up.url }) });
  for (const [name, { versions, deps = [] }] of Object.entries(crates)) {
    const lines = versions.map((vers) => {
      const crate = Buffer.from(`not really a gzip of ${name}-${vers}`.repeat(20));
      up.set(`/api/v1/crates/${name}/${vers}/download`, { body: crate });
      const cksum = createHash('sha256').update(crate).digest('hex');
      const d = deps.map((dep) => ({
        name: dep,
        req: '^1',
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: 'normal',
      }));
      return JSON.stringify({ name, vers, deps: d, cksum, features: {}, yanked: false });
    });
    up.set(`/${indexPath(name)}`, { body: lines.join('\n') + '\n' });
  }
  return up;
}

describe('larder mirror', () => {
  it('refuses a repository that is not a proxy, naming what it is and what is needed', async () => {
    const { cwd, args } = workdir('[[repos]]\nname = "local"\nformat = "cargo"\nkind = "hosted"\n');
    const hosted = await larder(cwd, ['mirror', 'local', 'serde', ...args]);
    expect(hosted.code).toBe(1);
    expect(hosted.stderr).toContain(
      'repository "local" is a hosted cargo repository; larder mirror fills proxy repositories (kind = "proxy"',
    );
    const unknown = await larder(cwd, ['mirror', 'nope', 'serde', ...args]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no repository named "nope"');
    const badConcurrency = await larder(cwd, ['mirror', 'local', 'serde', '--concurrency', '0', ...args]);
    expect(badConcurrency.code).toBe(1);
    expect(badConcurrency.stderr).toContain('--concurrency: a whole number from 1 to 256');
  });

  // Needs the Cargo proxy parts (src/formats/cargo/parts.ts `proxy`, being written in parallel): until Cargo's
  // plugin lists 'proxy' in its kinds, a cargo proxy repo cannot be opened, so this test is skipped.
  it.skipIf(!cargoFormat.kinds.includes('proxy'))(
    'mirrors crates with their dependencies from a crates.io-like upstream; a second run fetches nothing again; errors exit 1',
    async () => {
      const up = await fakeCratesIo({ app: { versions: ['1.0.0', '1.1.0'], deps: ['serde'] }, serde: { versions: ['1.0.0'] } });
      const { cwd, args } = workdir(
        `[[repos]]\nname = "crates"\nformat = "cargo"\nkind = "proxy"\nupstream = "sparse+${up.url}/"\noffline = true\n`,
      );
      const first = await larder(cwd, ['mirror', 'crates', 'app', ...args]);
      expect(first.stderr).toContain('is offline; mirroring contacts its upstream');
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(
        /mirrored 2 package\(s\) and 3 artifact\(s\) into "crates" in [\d.]+ s: 3 artifact\(s\) fetched \([\d.]+ KiB\), 0 already stored/,
      );
      expect(up.hits('/api/v1/crates/serde/1.0.0/download')).toBe(1);

      const second = await larder(cwd, ['mirror', 'crates', 'app', ...args]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain('0 artifact(s) fetched (0 B), 3 already stored');
      expect(up.requests.filter((r) => r.path.endsWith('/download'))).toHaveLength(3);

      const strict = await larder(cwd, ['mirror', 'crates', 'app', 'missing-crate', '--strict', ...args]);
      expect(strict.code).toBe(1);
      expect(strict.stdout).toMatch(/mirrored 1 package\(s\) and 2 artifact\(s\)/);
      expect(strict.stderr).toMatch(/^error: package missing-crate: .*not found/m);
      expect(strict.stderr).toContain('larder mirror: 1 error(s)');
    },
  );
});
