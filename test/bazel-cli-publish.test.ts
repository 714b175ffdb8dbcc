/**
 * `larder bazel publish` against a real `larder serve`, as a module author runs it: the presubmit.yml the registry's
 * default policy (the BCR's) asks for is taken from `.bcr/presubmit.yml` (the publish-to-bcr template layout) beside
 * MODULE.bazel or in the current directory when --presubmit names none, and the CLI says which file it sent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESUBMIT_YML } from './support/bazel.js';
import { tarGz } from './support/archives.js';
import { larder } from './support/cli.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

const work = tempDir('larder-bazel-cli-');
let server: ServeProcess;

beforeAll(async () => {
  const home = path.join(work.path, 'server');
  fs.mkdirSync(home);
  fs.writeFileSync(
    path.join(home, 'larder.toml'),
    [
      '[[repos]]',
      'name = "bazel"',
      'format = "bazel"',
      'kind = "hosted"',
      '',
      '[[repos]]',
      'name = "loose"',
      'format = "bazel"',
      'kind = "hosted"',
      '[repos.bazel_policy]',
      'require_presubmit = false',
      '',
    ].join('\n'),
  );
  server = await startServeProcess({ cwd: home, data: path.join(home, 'data') });
});
afterAll(async () => {
  await server?.stop();
  work.remove();
});

/** A module's checkout at `dir`: MODULE.bazel declaring cli_mod@version, its source archive, a patch. */
async function checkout(dir: string, version: string): Promise<string> {
  const text = `module(name = "cli_mod", version = "${version}")\n`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'MODULE.bazel'), text);
  fs.writeFileSync(
    path.join(dir, `cli_mod-${version}.tar.gz`),
    await tarGz([
      { name: `cli_mod-${version}/MODULE.bazel`, body: text },
      { name: `cli_mod-${version}/a.txt`, body: 'one\n' },
    ]),
  );
  fs.writeFileSync(path.join(dir, 'a.patch'), '--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n');
  return text;
}

/** Writes `.bcr/presubmit.yml` under `dir` (a matrix naming `platform`, so each file is told apart) and returns it. */
function bcrPresubmit(dir: string, platform: string): string {
  const text = PRESUBMIT_YML.replace('debian11', platform);
  fs.mkdirSync(path.join(dir, '.bcr'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.bcr', 'presubmit.yml'), text);
  return text;
}

/** `larder bazel publish` of cli_mod@version from `cwd`, the archive found beside `module` (a path relative to cwd). */
function publish(cwd: string, version: string, extra: string[] = [], repo = 'bazel', module = 'MODULE.bazel') {
  const dir = path.dirname(module);
  return larder(cwd, [
    'bazel',
    'publish',
    '--registry',
    `${server.url}/${repo}`,
    '--token',
    TEST_ADMIN_TOKEN,
    '--module',
    module,
    '--archive',
    path.join(dir, `cli_mod-${version}.tar.gz`),
    '--strip-prefix',
    `cli_mod-${version}`,
    '--patch',
    path.join(dir, 'a.patch'),
    ...extra,
  ]);
}

const served = async (url: string) => {
  const res = await fetch(`${server.url}${url}`);
  return { status: res.status, text: await res.text() };
};

describe('larder bazel publish', () => {
  it('publishes a module with an archive, a patch and its .bcr/presubmit.yml, and the registry serves them', async () => {
    const dir = path.join(work.path, 'one');
    const text = await checkout(dir, '0.1.0');
    const presubmit = bcrPresubmit(dir, 'ubuntu2204');
    const res = await publish(dir, '0.1.0', ['--maintainer', 'me@example.com']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('published cli_mod@0.1.0');
    expect(res.stderr).toBe(`presubmit.yml: sending ${path.join('.bcr', 'presubmit.yml')} (--presubmit FILE sends another)\n`);
    expect((await served('/bazel/modules/cli_mod/0.1.0/MODULE.bazel')).text).toBe(text);
    expect(await served('/bazel/modules/cli_mod/0.1.0/presubmit.yml')).toEqual({ status: 200, text: presubmit });
    const meta = JSON.parse((await served('/bazel/modules/cli_mod/metadata.json')).text);
    expect(meta).toMatchObject({ versions: ['0.1.0'], maintainers: [{ email: 'me@example.com' }] });

    // Other content for a published version (here another presubmit.yml) is refused.
    fs.writeFileSync(path.join(dir, 'other.yml'), PRESUBMIT_YML);
    const again = await publish(dir, '0.1.0', ['--presubmit', 'other.yml']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('(409): cli_mod@0.1.0 is already published');
  });

  it('takes .bcr/presubmit.yml beside the --module file first, then the one in the current directory', async () => {
    const cwd = path.join(work.path, 'two');
    await checkout(path.join(cwd, 'beside'), '0.2.0');
    const beside = bcrPresubmit(path.join(cwd, 'beside'), 'macos_arm64');
    const here = bcrPresubmit(cwd, 'windows');
    const first = await publish(cwd, '0.2.0', [], 'bazel', 'beside/MODULE.bazel');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`presubmit.yml: sending ${path.join('beside', '.bcr', 'presubmit.yml')}`);
    expect((await served('/bazel/modules/cli_mod/0.2.0/presubmit.yml')).text).toBe(beside);

    await checkout(path.join(cwd, 'nested'), '0.3.0');
    const second = await publish(cwd, '0.3.0', [], 'bazel', 'nested/MODULE.bazel');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`presubmit.yml: sending ${path.join('.bcr', 'presubmit.yml')} (`);
    expect((await served('/bazel/modules/cli_mod/0.3.0/presubmit.yml')).text).toBe(here);
  });

  it('without a presubmit.yml is refused under the default policy, saying what to do; --presubmit or require_presubmit = false publish', async () => {
    const dir = path.join(work.path, 'three');
    await checkout(dir, '0.4.0');
    const refused = await publish(dir, '0.4.0');
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toContain('presubmit.yml: sending');
    expect(refused.stderr).toContain('(403): repos.bazel.bazel_policy.require_presubmit is true');
    expect(refused.stderr).toContain('`larder bazel publish --presubmit FILE`');
    expect(refused.stderr).toContain('set require_presubmit = false under [repos.bazel_policy] of the [[repos]] entry "bazel"');
    expect((await served('/bazel/modules/cli_mod/0.4.0/MODULE.bazel')).status).toBe(404);

    fs.writeFileSync(path.join(dir, 'ci.yml'), PRESUBMIT_YML);
    const named = await publish(dir, '0.4.0', ['--presubmit', 'ci.yml']);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).toBe('');
    expect((await served('/bazel/modules/cli_mod/0.4.0/presubmit.yml')).text).toBe(PRESUBMIT_YML);

    const loose = await publish(dir, '0.4.0', [], 'loose');
    expect(loose.code, loose.stderr).toBe(0);
    expect((await served('/loose/modules/cli_mod/0.4.0/MODULE.bazel')).status).toBe(200);
    expect((await served('/loose/modules/cli_mod/0.4.0/presubmit.yml')).status).toBe(404);
  });
});
