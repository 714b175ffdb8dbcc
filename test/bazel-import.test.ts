/**
 * `larder import bazel` as a user runs it: a registry directory (or git clone) loaded byte for
 * byte, again with only what changed, and pinned files never overwritten.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/larder.js');
const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const work = tempDir('larder-bazel-import-');
afterAll(() => work.remove());

async function larder(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: work.path, env: { ...process.env, LARDER_CONFIG: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('larder import bazel', () => {
  const source = path.join(work.path, 'registry');
  const data = path.join(work.path, 'data');

  it('imports a registry directory, then only what changed, and refuses to change pinned files', async () => {
    fs.cpSync(FIXTURE, source, { recursive: true });
    const first = await larder(['import', 'bazel', source, '--data', data]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/1262 new, 0 changed, 1 unchanged files; 392 module versions; 1 non-registry entries ignored/);

    const again = await larder(['import', 'bazel', source, '--data', data]);
    expect(again.stdout).toMatch(/0 new, 0 changed, 1263 unchanged files/);

    // A new version and a changed metadata.json are what a registry's history adds.
    fs.cpSync(path.join(source, 'modules/rules_xz/1.0.1'), path.join(source, 'modules/rules_xz/1.0.2'), { recursive: true });
    const moduleFile = path.join(source, 'modules/rules_xz/1.0.2/MODULE.bazel');
    fs.writeFileSync(moduleFile, fs.readFileSync(moduleFile, 'utf8').replace('"1.0.1"', '"1.0.2"'));
    const metadata = path.join(source, 'modules/rules_xz/metadata.json');
    fs.writeFileSync(metadata, fs.readFileSync(metadata, 'utf8').replace('"1.0.1"\n', '"1.0.1",\n        "1.0.2"\n'));
    const third = await larder(['import', 'bazel', source, '--data', data]);
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/\d+ new, 1 changed, \d+ unchanged files; 393 module versions/);

    // Rewriting a published MODULE.bazel would break every lockfile: refused, nothing written.
    const pinned = path.join(source, 'modules/rules_xz/1.0.1/MODULE.bazel');
    fs.appendFileSync(pinned, '# edited\n');
    fs.writeFileSync(metadata, `${fs.readFileSync(metadata, 'utf8')} `);
    const refused = await larder(['import', 'bazel', source, '--data', data]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('modules/rules_xz/1.0.1/MODULE.bazel');
    expect(refused.stderr).toContain('lockfiles pin them');
    fs.writeFileSync(pinned, fs.readFileSync(path.join(FIXTURE, 'modules/rules_xz/1.0.1/MODULE.bazel')));
    const after = await larder(['import', 'bazel', source, '--data', data]);
    // The metadata.json edit made with the refused import was not written then, so it is new now.
    expect(after.stdout).toMatch(/0 new, 1 changed/);
  });

  it('clones a git URL and imports its tree', async () => {
    const repo = path.join(work.path, 'git-registry');
    fs.cpSync(FIXTURE, repo, { recursive: true });
    const git = (...args: string[]) => run('git', ['-C', repo, ...args]);
    await git('init', '-q');
    await git('add', '-A');
    await git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'registry');
    const res = await larder(['import', 'bazel', `file://${repo}`, '--data', path.join(work.path, 'data-git')]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/1262 new, 0 changed, 1 unchanged files; 392 module versions/);
  });

  it('says what is wrong with a source that is not a registry', async () => {
    const res = await larder(['import', 'bazel', work.path + '/nope', '--data', data]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('neither a directory nor a git URL');
    fs.mkdirSync(path.join(work.path, 'empty'));
    const empty = await larder(['import', 'bazel', path.join(work.path, 'empty'), '--data', data]);
    expect(empty.stderr).toContain('neither bazel_registry.json nor modules/');
  });
});
