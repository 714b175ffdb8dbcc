/** `larder julia create-registry` and `larder julia register` against a running server, as a package author runs them. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const work = tempDir('larder-julia-cli-');
const REG = '1b2c3d4e-0000-4000-8000-00000000000a';
let larder: TestLarder;

beforeAll(async () => {
  larder = await startTestLarder({ repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }] });
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

const larderCli = (...args: string[]) => run(process.execPath, [path.resolve('bin/larder.js'), ...args], { cwd: work.path });

it('creates a registry and registers a package directory; Pkg then sees both', async () => {
  const server = `${larder.url}/julia`;
  const created = await larderCli('julia', 'create-registry', 'Team', '--server', server, '--token', larder.adminToken, '--uuid', REG);
  expect(created.stdout).toMatch(new RegExp(`created registry Team \\(${REG}\\), tree [0-9a-f]{40}`));
  const pkg = path.join(work.path, 'Foo');
  fs.mkdirSync(path.join(pkg, 'src'), { recursive: true });
  fs.writeFileSync(
    path.join(pkg, 'Project.toml'),
    'name = "Foo"\nuuid = "11111111-2222-4333-8444-555555555555"\nversion = "0.1.0"\n\n[compat]\njulia = "1.6"\n',
  );
  fs.writeFileSync(path.join(pkg, 'src', 'Foo.jl'), 'module Foo end\n');
  const registered = await larderCli('julia', 'register', pkg, '--server', server, '--registry', REG, '--token', larder.adminToken);
  const m = /package tree ([0-9a-f]{40}), registry tree ([0-9a-f]{40})/.exec(registered.stdout);
  expect(m).not.toBeNull();
  // git agrees with the package tree hash Larder registered.
  await run('git', ['init', '-q'], { cwd: pkg });
  await run('git', ['add', '-A'], { cwd: pkg });
  expect((await run('git', ['write-tree'], { cwd: pkg })).stdout.trim()).toBe(m![1]);
  expect(await (await fetch(`${server}/registries`)).text()).toBe(`/registry/${REG}/${m![2]}\n`);
  expect((await fetch(`${server}/package/11111111-2222-4333-8444-555555555555/${m![1]}`)).status).toBe(200);
});
