/**
 * MoonBit's index as moon reaches it: the real git client over a real socket, with the exact commands
 * moon runs (protocols/moonbit.md §2, §13.1): a shallow single-branch clone (protocol v2 and v0), then
 * `git pull origin main` after each publish; pushes refused; a rebuilt cache serves the same commits.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gitHistoryDir } from '../src/registry/git-history/build.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { putModule } from './support/moonbit.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const work = tempDir('larder-moonbit-git-');
let larder: TestLarder;
let index: string;

const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (cwd: string, ...args: string[]) => run('git', args, { cwd, env });
/** What moon runs when it has no index yet. */
const clone = (dir: string, ...opts: string[]) =>
  git(work.path, ...opts, 'clone', '--quiet', '--depth', '1', '--single-branch', '--no-tags', index, path.join(work.path, dir));
const read = (dir: string, file: string) => fs.readFileSync(path.join(work.path, dir, file), 'utf8');

beforeAll(async () => {
  larder = await startTestLarder({
    repos: [
      { name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      { name: 'secret', format: 'moonbit', kind: 'hosted', visibility: 'private' },
    ],
  });
  index = `${larder.url}/moon/git/index`;
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

it('clones an empty index on main (no files yet), pulls it unchanged, then pulls the first publish', async () => {
  const { stderr } = await clone('empty');
  expect(stderr).not.toMatch(/empty repository/);
  const dir = path.join(work.path, 'empty');
  expect((await git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).stdout.trim()).toBe('main');
  expect((await git(dir, 'ls-files')).stdout).toBe('');
  // Before anything is published a pull already works: moon does not re-clone on every update.
  await git(dir, 'pull', '--quiet', 'origin', 'main');
  await putModule(larder.registry, 'moon', 'alice/json', '0.1.0');
  await git(path.join(work.path, 'empty'), 'pull', '--quiet', 'origin', 'main');
  expect(read('empty', 'user/alice/json.index')).toMatch(/^\{"name":"alice\/json","version":"0.1.0",.*"checksum":"[0-9a-f]{64}"\}\n$/);
});

it('clones shallow over protocol v2 and v0 on main, and fast-forwards with git pull origin main', async () => {
  await clone('v2');
  await clone('v0', '-c', 'protocol.version=0');
  for (const dir of ['v2', 'v0']) {
    const cwd = path.join(work.path, dir);
    expect((await git(cwd, 'rev-parse', '--abbrev-ref', 'HEAD')).stdout.trim()).toBe('main');
    expect((await git(cwd, 'rev-parse', '--is-shallow-repository')).stdout.trim()).toBe('true');
    expect(read(dir, 'user/alice/json.index')).toContain('"version":"0.1.0"');
  }
  const v2 = path.join(work.path, 'v2');
  const before = (await git(v2, 'rev-parse', 'HEAD')).stdout.trim();
  await putModule(larder.registry, 'moon', 'alice/json', '0.2.0', { deps: { 'alice/数据': '1.0.0' } });
  await putModule(larder.registry, 'moon', 'alice/数据', '1.0.0');
  await putModule(larder.registry, 'moon', 'alice/🦀/nested', '1.0.0');
  for (const dir of ['v2', 'v0']) {
    const { stdout } = await git(path.join(work.path, dir), 'pull', 'origin', 'main');
    expect(stdout).toMatch(/Fast-forward/);
  }
  expect((await git(v2, 'merge-base', '--is-ancestor', before, 'HEAD')).stderr).toBe('');
  const lines = read('v2', 'user/alice/json.index').trimEnd().split('\n');
  expect(lines.map((l) => (JSON.parse(l) as { version: string }).version)).toEqual(['0.1.0', '0.2.0']);
  expect(read('v2', 'user/alice/数据.index')).toContain('"name":"alice/数据"');
  expect(read('v0', 'user/alice/🦀/nested.index')).toContain('"version":"1.0.0"');
  expect((await git(v2, 'log', '-1', '--format=%an <%ae>%n%s')).stdout.trim()).toBe(
    'Larder <larder@localhost>\nPublish alice/🦀/nested@1.0.0',
  );
});

it('refuses a push', async () => {
  const v2 = path.join(work.path, 'v2');
  await git(v2, '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '--allow-empty', '-q', '-m', 'mine');
  const err = await git(v2, 'push', 'origin', 'HEAD:main').then(
    () => null,
    (e: { stderr: string }) => e.stderr,
  );
  expect(err).toMatch(/403/);
  // The index did not move.
  const refs = await fetch(`${index}/info/refs?service=git-upload-pack`);
  expect(refs.status).toBe(200);
  expect(await refs.text()).not.toContain((await git(v2, 'rev-parse', 'HEAD')).stdout.trim());
});

it('serves the same commit ids from a rebuilt cache, and through a doubled slash', async () => {
  const tip = (await git(path.join(work.path, 'v0'), 'rev-parse', 'HEAD')).stdout.trim();
  const repo = larder.registry.repos.get('moon')!;
  fs.rmSync(gitHistoryDir(larder.data, { repoId: repo.id, history: 'index' }), { recursive: true, force: true });
  index = `${larder.url}/moon//git/index`;
  await clone('rebuilt');
  expect((await git(path.join(work.path, 'rebuilt'), 'rev-parse', 'HEAD')).stdout.trim()).toBe(tip);
});

it('clones a private index with the token in the URL, and not without it', async () => {
  await putModule(larder.registry, 'secret', 'alice/hidden', '1.0.0');
  const url = new URL(`${larder.url}/secret/git/index`);
  const denied = await git(work.path, 'clone', '--depth', '1', url.href, path.join(work.path, 'denied')).then(
    () => null,
    (e: { stderr: string }) => e.stderr,
  );
  expect(denied).toMatch(/Authentication failed|could not read Username|401/);
  url.username = 'token';
  url.password = larder.adminToken;
  await git(work.path, 'clone', '--quiet', '--depth', '1', '--single-branch', '--no-tags', url.href, path.join(work.path, 'secret'));
  expect(read('secret', 'user/alice/hidden.index')).toContain('"name":"alice/hidden"');
});
