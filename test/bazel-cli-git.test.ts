/**
 * A git_repository source end to end as an operator and a module author meet it: `bazel_policy` read from larder.toml by
 * a real `larder serve`, `larder bazel publish --git-remote … --git-commit …` building the source.json, the real git
 * fetching the commit from `git http-backend`. The repository left at the BCR's rules refuses, naming the setting.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sri } from '../src/core/sri.js';
import { PRESUBMIT_YML } from './support/bazel.js';
import { BIN } from './support/cli.js';
import { commitRepo, startGitServer, type GitServer } from './support/git-server.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const work = tempDir('larder-bazel-cli-git-');
const MODULE = 'module(name = "cli_git", version = "0.1.0")\n';
const PATCH = '--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n';
let server: ServeProcess;
let git: GitServer;
let commit: string;

beforeAll(async () => {
  const repo = path.join(work.path, 'repos', 'cli_git');
  fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'src', 'MODULE.bazel'), MODULE);
  fs.writeFileSync(path.join(repo, 'src', 'a.txt'), 'one\n');
  await commitRepo(repo);
  commit = (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
  git = await startGitServer(path.join(work.path, 'repos'));

  const home = path.join(work.path, 'server');
  fs.mkdirSync(home);
  fs.writeFileSync(
    path.join(home, 'larder.toml'),
    [
      '[outbound]',
      'allow_private = ["127.0.0.1"]',
      'git_allow_http = true',
      '',
      '[[repos]]',
      'name = "bcr"',
      'format = "bazel"',
      'kind = "hosted"',
      '',
      '[[repos]]',
      'name = "corp"',
      'format = "bazel"',
      'kind = "hosted"',
      '[repos.bazel_policy]',
      'source_types = ["archive", "git_repository"]',
      '',
    ].join('\n'),
  );
  server = await startServeProcess({ cwd: home, data: path.join(home, 'data') });
  fs.writeFileSync(path.join(work.path, 'MODULE.bazel'), MODULE);
  fs.writeFileSync(path.join(work.path, 'a.patch'), PATCH);
  // The module's CI matrix where the publish-to-bcr template keeps it: the CLI sends it without --presubmit.
  fs.mkdirSync(path.join(work.path, '.bcr'));
  fs.writeFileSync(path.join(work.path, '.bcr', 'presubmit.yml'), PRESUBMIT_YML);
});
afterAll(async () => {
  await server?.stop();
  await git?.close();
  work.remove();
});

async function publish(repo: string) {
  const args = ['bazel', 'publish', '--registry', `${server.url}/${repo}`, '--token', TEST_ADMIN_TOKEN];
  args.push('--git-remote', `${git.url}/cli_git`, '--git-commit', commit, '--strip-prefix', 'src', '--patch', 'a.patch');
  return run(process.execPath, [BIN, ...args], { cwd: work.path }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

it('publishes a git commit where the policy allows it, and the registry serves the source.json the CLI built', async () => {
  const refused = await publish('bcr');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(
    '(403): repos.bcr.bazel_policy.source_types does not allow git_repository; add "git_repository" to it in larder.toml',
  );
  expect((await fetch(`${server.url}/bcr/modules/cli_git/0.1.0/source.json`)).status).toBe(404);

  const ok = await publish('corp');
  expect(ok.stderr).toBe(`presubmit.yml: sending ${path.join('.bcr', 'presubmit.yml')} (--presubmit FILE sends another)\n`);
  expect(ok.stdout).toContain('published cli_git@0.1.0');
  const served = await (await fetch(`${server.url}/corp/modules/cli_git/0.1.0/source.json`)).text();
  expect(served).toBe(
    `${JSON.stringify(
      {
        type: 'git_repository',
        remote: `${git.url}/cli_git`,
        commit,
        strip_prefix: 'src',
        patches: { 'a.patch': sri(Buffer.from(PATCH)) },
        patch_strip: 1,
      },
      null,
      4,
    )}\n`,
  );
  expect(await (await fetch(`${server.url}/corp/modules/cli_git/0.1.0/patches/a.patch`)).text()).toBe(PATCH);
  expect(await (await fetch(`${server.url}/corp/modules/cli_git/0.1.0/presubmit.yml`)).text()).toBe(PRESUBMIT_YML);
});
