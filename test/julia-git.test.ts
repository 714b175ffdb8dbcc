/**
 * A hosted registry as git over smart HTTP: what `pkg> registry add https://host/<repo>/<Name>.git`
 * does is a clone, and later a pull. The real git client is the oracle.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import type { FileTree } from '../src/formats/julia/tree-hash.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const REG = '1b2c3d4e-0000-4000-8000-00000000000b';
const work = tempDir('larder-julia-git-');
let larder: TestLarder;

async function registerFoo(version: string): Promise<void> {
  const tree: FileTree = new Map([
    [
      'Project.toml',
      {
        kind: 'file',
        data: Buffer.from(
          `name = "Foo"\nuuid = "11111111-2222-4333-8444-555555555555"\nversion = "${version}"\n\n[compat]\njulia = "1.6"\n`,
        ),
      },
    ],
  ]);
  const res = await fetch(`${larder.url}/julia/api/registries/${REG}/packages`, {
    method: 'PUT',
    body: new Uint8Array(await canonicalTarball(tree)),
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${larder.adminToken}` },
  });
  expect(res.status).toBe(201);
}

async function advertised(): Promise<string> {
  return (await (await fetch(`${larder.url}/julia/registries`)).text()).trim().split('/')[3];
}

beforeAll(async () => {
  larder = await startTestLarder({ repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }] });
  const created = await fetch(`${larder.url}/julia/api/registries`, {
    method: 'POST',
    body: JSON.stringify({ name: 'Team', uuid: REG }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${larder.adminToken}` },
  });
  expect(created.status).toBe(201);
  await registerFoo('0.1.0');
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

const git = (cwd: string, ...args: string[]) => run('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });

it('clones the registry with the advertised tree, pulls new registrations, and keeps commit ids when rebuilt', async () => {
  const clone = path.join(work.path, 'Team');
  await git(work.path, 'clone', '--quiet', '--depth', '1', '--single-branch', '--no-tags', `${larder.url}/julia/Team.git`, clone);
  expect((await git(clone, 'rev-parse', 'HEAD^{tree}')).stdout.trim()).toBe(await advertised());
  expect(fs.readFileSync(path.join(clone, 'F/Foo/Versions.toml'), 'utf8')).toContain('["0.1.0"]');
  const first = (await git(clone, 'rev-parse', 'HEAD')).stdout.trim();
  expect((await git(clone, 'log', '-1', '--format=%an <%ae>%n%s')).stdout.trim()).toBe(
    'Larder <larder@localhost>\nNew version: Foo v0.1.0',
  );

  await registerFoo('0.2.0');
  await git(clone, 'pull', '--quiet', 'origin', 'master');
  expect((await git(clone, 'rev-parse', 'HEAD^{tree}')).stdout.trim()).toBe(await advertised());
  expect(fs.readFileSync(path.join(clone, 'F/Foo/Versions.toml'), 'utf8')).toContain('["0.2.0"]');
  const second = (await git(clone, 'rev-parse', 'HEAD')).stdout.trim();
  expect((await git(clone, 'rev-parse', 'HEAD~1')).stdout.trim()).toBe(first);

  // The bare repository is only a cache: rebuilt from the database, it has the same commit ids.
  fs.rmSync(path.join(larder.data, 'julia-git'), { recursive: true, force: true });
  const again = path.join(work.path, 'Team2');
  await git(work.path, 'clone', '--quiet', `${larder.url}/julia/Team.git`, again);
  expect((await git(again, 'rev-parse', 'HEAD')).stdout.trim()).toBe(second);
});

it('refuses pushes and answers 404 for registries that do not exist', async () => {
  expect((await fetch(`${larder.url}/julia/Nope.git/info/refs?service=git-upload-pack`)).status).toBe(404);
  expect((await fetch(`${larder.url}/julia/Team.git/info/refs?service=git-receive-pack`)).status).toBe(405);
});

it('answers 404 for paths outside the repository, plain or encoded, and never hands them to git', async () => {
  const { request } = await import('node:http');
  const get = (p: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      // node:http sends the path verbatim (fetch would normalise the dots away).
      const req = request(`${larder.url}${p}`, { method: 'GET' }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject).end();
    });
  for (const p of [
    '/julia/Team.git/objects/../../config',
    '/julia/Team.git/objects/%2e%2e/%2e%2e/config',
    '/julia/Team.git/objects%2F..%2F..%2Fconfig',
    '/julia/Team.git/objects/..%2F..%2Fconfig',
    '/julia/Team.git/objects/%2E%2E%2F%2E%2E%2Fconfig',
    '/julia/Team.git/objects/info/../../config',
    '/julia/Team.git/objects/ab/../../../config',
  ]) {
    const res = await get(p);
    expect([400, 404], `${p}: ${res.status} ${res.body}`).toContain(res.status);
    expect(res.body).not.toContain('repositoryformatversion');
  }
  expect((await get('/julia/Team.git/info/refs?service=git-upload-pack')).status).toBe(200);
});
