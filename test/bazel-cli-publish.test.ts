/** `larder bazel publish` against a running server, as a module author runs it. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tarGz } from './support/cargo.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const work = tempDir('larder-bazel-cli-');
let larder: TestLarder;

beforeAll(async () => {
  larder = await startTestLarder({ repos: [{ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' }] });
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

it('publishes a module with an archive and a patch, and the registry serves it', async () => {
  const text = 'module(name = "cli_mod", version = "0.1.0")\n';
  fs.writeFileSync(path.join(work.path, 'MODULE.bazel'), text);
  fs.writeFileSync(
    path.join(work.path, 'cli_mod-0.1.0.tar.gz'),
    await tarGz([
      { name: 'cli_mod-0.1.0/MODULE.bazel', body: text },
      { name: 'cli_mod-0.1.0/a.txt', body: 'one\n' },
    ]),
  );
  fs.writeFileSync(path.join(work.path, 'a.patch'), '--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n');
  const { stdout } = await run(
    process.execPath,
    [
      path.resolve('bin/larder.js'),
      'bazel',
      'publish',
      '--registry',
      `${larder.url}/bazel`,
      '--token',
      larder.adminToken,
      '--archive',
      'cli_mod-0.1.0.tar.gz',
      '--strip-prefix',
      'cli_mod-0.1.0',
      '--patch',
      'a.patch',
      '--maintainer',
      'me@example.com',
    ],
    { cwd: work.path },
  );
  expect(stdout).toContain('published cli_mod@0.1.0');
  const res = await fetch(`${larder.url}/bazel/modules/cli_mod/0.1.0/MODULE.bazel`);
  expect(await res.text()).toBe(text);
  const meta = await (await fetch(`${larder.url}/bazel/modules/cli_mod/metadata.json`)).json();
  expect(meta).toMatchObject({ versions: ['0.1.0'], maintainers: [{ email: 'me@example.com' }] });
  const again = await run(
    process.execPath,
    [
      path.resolve('bin/larder.js'),
      'bazel',
      'publish',
      '--registry',
      `${larder.url}/bazel`,
      '--token',
      larder.adminToken,
      '--archive',
      'cli_mod-0.1.0.tar.gz',
      '--strip-prefix',
      'cli_mod-0.1.0',
    ],
    { cwd: work.path },
  ).catch((e) => e);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('(409): cli_mod@0.1.0 is already published');
});
