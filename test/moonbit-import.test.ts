/**
 * `larder import moonbit` as a user runs it: the mooncakes sample through the CLI, then a real
 * `git clone` of the repo's index history whose checkout matches the sample's MANIFEST.sha256; an
 * index cloned from an http git URL at a non-default branch; a moonbit-registry-tools store whose
 * sources come back as larder.toml blocks.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { importMoonbit } from '../src/formats/moonbit/import.js';
import { readImportSource } from '../src/formats/moonbit/import-source.js';
import { INDEX_HISTORY } from '../src/formats/moonbit/store.js';
import { syncGitHistory } from '../src/registry/git-history/build.js';
import { larder } from './support/cli.js';
import { commitRepo, startGitServer } from './support/git-server.js';
import { openTestApp } from './support/larder.js';
import { openTestAppAt } from './support/larder-at.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const FIXTURE = path.resolve('../shared/fixtures/moonbit-sample');
const work = tempDir('larder-moonbit-import-cli-');
afterAll(() => work.remove());

describe('larder import moonbit', () => {
  it('imports the sample, again changes nothing, and a git clone of the history checks out byte-identical files', async () => {
    const data = path.join(work.path, 'data');
    const first = await larder(work.path, ['import', 'moonbit', FIXTURE, '--data', data]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^imported directory into moonbit: 38 new, 0 extended, 0 unchanged modules; \d+ versions \(0 with their zips, 1 yanked\)/,
    );
    expect(first.stdout).toContain('have no zip here: their downloads answer 404');
    expect(first.stdout).toContain('1 files that are not index files were left out');
    const again = await larder(work.path, ['import', 'moonbit', FIXTURE, '--data', data]);
    expect(again.stdout).toMatch(/^moonbit already holds everything in directory: 38 unchanged modules, nothing written/);
    const verify = await larder(work.path, ['verify', '--data', data]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    const t = await openTestAppAt(data, { repos: [{ name: 'moonbit', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
    try {
      const repo = t.registry.repos.get('moonbit')!;
      const bare = await syncGitHistory(t.registry.db, { repoId: repo.id, history: INDEX_HISTORY, dir: path.join(work.path, 'index.git') });
      const checkout = path.join(work.path, 'checkout');
      // The clone moon makes (§2): shallow, one branch, no tags.
      await run('git', ['clone', '-q', '--depth', '1', '--single-branch', '--no-tags', `file://${bare}`, checkout]);
      expect((await run('git', ['-C', checkout, 'rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim()).toBe('main');
      expect((await run('git', ['-C', checkout, 'rev-list', '--count', 'HEAD'])).stdout.trim()).toBe('1');
      await run('sha256sum', ['--check', '--quiet', '--strict', path.join(FIXTURE, 'MANIFEST.sha256')], { cwd: checkout });
      const files = (await run('git', ['-C', checkout, 'ls-files', '-z'])).stdout.split('\0').filter(Boolean);
      expect(files.length).toBe(39);
      expect(files).toContain('user/lijunchen/nested/lib1.index');
    } finally {
      await t.stop();
    }
  });

  it('clones an http git URL and imports the branch it names', async () => {
    const root = path.join(work.path, 'served');
    const src = path.join(root, 'mooncakes-mirror');
    fs.cpSync(FIXTURE, src, { recursive: true });
    await commitRepo(src);
    await run('git', ['-C', src, 'branch', '-m', 'registry-index']);
    const server = await startGitServer(root);
    const t = await openTestApp({ outbound: { allowPrivate: ['127.0.0.1'], gitAllowHttp: true } });
    try {
      const source = await readImportSource(t.registry, `${server.url}/mooncakes-mirror`, { branch: 'registry-index' });
      expect(source.describe).toMatch(/^git commit [0-9a-f]{12} of registry-index$/);
      const s = await importMoonbit(t.registry, t.registry.repos.get('moonbit')!, source);
      expect(s).toMatchObject({ added: 38, committed: true });
    } finally {
      await t.stop();
    }
    // The same clone is refused when the address rules do not allow the host.
    const strict = await openTestApp({ outbound: { gitAllowHttp: true } });
    try {
      await expect(readImportSource(strict.registry, `${server.url}/mooncakes-mirror`)).rejects.toMatchObject({ code: 'URL_NOT_ALLOWED' });
    } finally {
      await strict.stop();
      await server.close();
    }
  });

  it('imports a moonbit-registry-tools store and prints the repos its sources become', async () => {
    const store = path.join(work.path, 'store');
    fs.mkdirSync(path.join(store, 'data'), { recursive: true });
    fs.cpSync(FIXTURE, path.join(store, 'data/index'), { recursive: true });
    fs.writeFileSync(
      path.join(store, 'registry.toml'),
      '[registry]\nname = "team"\n\n[[sources]]\nname = "mooncakes"\nurl = "https://mooncakes.io"\npriority = 100\n',
    );
    const res = await larder(work.path, ['import', 'moonbit', store, '--data', path.join(work.path, 'data-store')]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^imported moonbit-registry-tools store \(directory\) into moonbit: 38 new/);
    expect(res.stdout).toContain(
      'name = "mooncakes"\nformat = "moonbit"\nkind = "proxy"\nvisibility = "public"\nupstream = "https://mooncakes.io"',
    );
    expect(res.stdout).toContain('members = ["moonbit", "mooncakes"]');

    const bad = await larder(work.path, ['import', 'moonbit', store, '--branch', 'main', '--data', path.join(work.path, 'data-store')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not a git repository; --branch applies only to one');
  });
});
