/**
 * Registering packages in a hosted Julia registry (protocols/julia.md §10): the registry files
 * RegistryTools would write, new tree hashes git agrees with, tarballs served, refusals.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifiedTarball } from '../src/formats/julia/store.js';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import { readTarEntries, tarTreeHashes, type FileTree } from '../src/formats/julia/tree-hash.js';
import { tarGz } from './support/archives.js';
import { commitRepo, startGitServer, type GitServer } from './support/git-server.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { snapshotFiles, tempDir } from './support/tmp.js';

const run = promisify(execFile);
const REG = '1b2c3d4e-0000-4000-8000-000000000001';
const FOO = '11111111-2222-4333-8444-555555555555';
const BAR = '66666666-7777-4888-8999-aaaaaaaaaaaa';
const LINALG = '37e2e46d-f89d-539d-b4ee-838fcccc9c8e';
let larder: TestApp;
let gitServer: GitServer;
const work = tempDir('larder-julia-reg-');

beforeAll(async () => {
  // Repositories to register from are served over HTTPS on 127.0.0.1: allowed here as an operator would.
  gitServer = await startGitServer(work.path, { tls: true });
  larder = await openTestApp({
    repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }],
    outbound: { allowPrivate: ['127.0.0.1'], caFile: gitServer.caFile },
  });
  const created = await larder.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'TeamRegistry', uuid: REG, description: 'Our packages' },
    headers: { authorization: `Bearer ${larder.adminToken}` },
  });
  expect(created.statusCode, created.body).toBe(201);
});
afterAll(async () => {
  await larder?.stop();
  await gitServer?.close();
  work.remove();
});

function project(name: string, uuid: string, version: string, extra = ''): string {
  return `name = "${name}"\nuuid = "${uuid}"\nversion = "${version}"\n${extra}`;
}

async function packageTarball(projectToml: string, files: Record<string, string> = {}): Promise<Buffer> {
  const tree: FileTree = new Map([
    ['Project.toml', { kind: 'file', data: Buffer.from(projectToml) }],
    ['src/Pkg.jl', { kind: 'file', data: Buffer.from('module Pkg end\n') }],
  ]);
  for (const [k, v] of Object.entries(files)) tree.set(k, { kind: 'file', data: Buffer.from(v) });
  return canonicalTarball(tree);
}

const register = (body: Buffer | object, token: string | null = larder.adminToken) =>
  larder.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: body as Buffer,
    headers: {
      'content-type': Buffer.isBuffer(body) ? 'application/gzip' : 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });

/** The current registry tarball's files, read as Pkg reads a packed registry. */
async function registryFiles(): Promise<{ hash: string; files: Map<string, string> }> {
  const line = (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body.trim().split('\n')[0];
  const hash = line.split('/')[3];
  const res = await larder.app.inject({ method: 'GET', url: `/julia${line}` });
  const raw = gunzipSync(res.rawPayload);
  expect((await tarTreeHashes(Readable.from([raw]))).keepEmpty).toBe(hash);
  const dir = fs.mkdtempSync(path.join(work.path, 'x-'));
  fs.writeFileSync(path.join(dir, 'r.tar'), raw);
  await run('tar', ['-xf', 'r.tar'], { cwd: dir });
  fs.rmSync(path.join(dir, 'r.tar'));
  // git agrees: the extracted tree's write-tree is the advertised hash.
  await run('git', ['init', '-q'], { cwd: dir });
  await run('git', ['add', '-A'], { cwd: dir });
  expect((await run('git', ['write-tree'], { cwd: dir })).stdout.trim()).toBe(hash);
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.git') continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(path.relative(dir, p), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return { hash, files };
}

describe('registering packages', () => {
  it('creates the registry with a Registry.toml and lists it in /registries', async () => {
    const { files } = await registryFiles();
    expect(files.get('Registry.toml')).toBe(
      `name = "TeamRegistry"\nuuid = "${REG}"\nrepo = "https://larder.test/julia/TeamRegistry.git"\ndescription = "Our packages"\n\n[packages]\n`,
    );
  });

  it("registers versions with dependencies and compat, writing RegistryTools' range compression", async () => {
    expect((await register(await packageTarball(project('Foo', FOO, '0.1.0', '\n[compat]\njulia = "1.6"\n')))).statusCode).toBe(201);
    const bar = (v: string, deps: string, compat: string) => project('Bar', BAR, v, `\n[deps]\n${deps}\n[compat]\n${compat}`);
    const r1 = await register(
      await packageTarball(bar('1.0.0', `Foo = "${FOO}"\nLinearAlgebra = "${LINALG}"\n`, 'Foo = "0.1"\njulia = "1.9"\n')),
    );
    expect(r1.statusCode, r1.body).toBe(201);
    expect(
      (
        await register(
          await packageTarball(bar('1.1.0', `Foo = "${FOO}"\nLinearAlgebra = "${LINALG}"\n`, 'Foo = "0.1, 0.2"\njulia = "1.9"\n')),
        )
      ).statusCode,
    ).toBe(201);
    const r3 = await register(await packageTarball(bar('2.0.0', `LinearAlgebra = "${LINALG}"\n`, 'julia = "1.10"\n')));
    expect(r3.statusCode, r3.body).toBe(201);
    const { packageTree } = JSON.parse(r3.body) as { packageTree: string };

    const { files } = await registryFiles();
    expect(files.get('Registry.toml')).toBe(
      `name = "TeamRegistry"\nuuid = "${REG}"\nrepo = "https://larder.test/julia/TeamRegistry.git"\ndescription = "Our packages"\n\n[packages]\n${FOO} = { name = "Foo", path = "F/Foo" }\n${BAR} = { name = "Bar", path = "B/Bar" }\n`,
    );
    expect(files.get('B/Bar/Package.toml')).toBe(`name = "Bar"\nuuid = "${BAR}"\nrepo = "https://larder.test/julia/packages/Bar.jl.git"\n`);
    expect(files.get('B/Bar/Deps.toml')).toBe(`[1]\nFoo = "${FOO}"\n\n[1-2]\nLinearAlgebra = "${LINALG}"\n`);
    expect(files.get('B/Bar/Compat.toml')).toBe(
      '[1]\njulia = "1.9.0-1"\n\n["1.0"]\nFoo = "0.1"\n\n["1.1-1"]\nFoo = "0.1-0.2"\n\n[2]\njulia = "1.10.0-1"\n',
    );
    expect(files.get('B/Bar/Versions.toml')).toMatch(
      /^\["1\.0\.0"\]\ngit-tree-sha1 = "[0-9a-f]{40}"\n\n\["1\.1\.0"\]\ngit-tree-sha1 = "[0-9a-f]{40}"\n\n\["2\.0\.0"\]\ngit-tree-sha1 = "[0-9a-f]{40}"\n$/,
    );
    expect(files.get('B/Bar/Versions.toml')).toContain(`["2.0.0"]\ngit-tree-sha1 = "${packageTree}"`);
    expect(files.get('F/Foo/Deps.toml')).toBe('');
    expect(files.get('F/Foo/Compat.toml')).toBe('[0]\njulia = "1.6.0-1"\n');

    // The package tarball is served by its tree hash, and hashes to it.
    const pkg = await larder.app.inject({ method: 'GET', url: `/julia/package/${BAR}/${packageTree}` });
    expect(pkg.statusCode).toBe(200);
    expect((await tarTreeHashes(Readable.from([gunzipSync(pkg.rawPayload)]))).keepEmpty).toBe(packageTree);
  });

  it('writes WeakDeps.toml and WeakCompat.toml for weak dependencies, and julia only in Compat.toml', async () => {
    const weaky = project(
      'Weaky',
      'dddddddd-2222-4333-8444-555555555555',
      '0.1.0',
      `\n[weakdeps]\nFoo = "${FOO}"\n\n[compat]\nFoo = "0.1"\njulia = "1.6"\n`,
    );
    const res = await register(await packageTarball(weaky));
    expect(res.statusCode, res.body).toBe(201);
    const { files } = await registryFiles();
    expect(files.get('W/Weaky/Deps.toml')).toBe('');
    expect(files.get('W/Weaky/WeakDeps.toml')).toBe(`[0]\nFoo = "${FOO}"\n`);
    expect(files.get('W/Weaky/WeakCompat.toml')).toBe('[0]\nFoo = "0.1"\n');
    expect(files.get('W/Weaky/Compat.toml')).toBe('[0]\njulia = "1.6.0-1"\n');
    expect(files.has('B/Bar/WeakDeps.toml')).toBe(false);
  });

  it('keeps serving older registry tarballs after a change', async () => {
    const before = await registryFiles();
    expect((await register(await packageTarball(project('Foo', FOO, '0.1.1', '\n[compat]\njulia = "1.6"\n')))).statusCode).toBe(201);
    const after = await registryFiles();
    expect(after.hash).not.toBe(before.hash);
    expect((await larder.app.inject({ method: 'GET', url: `/julia/registry/${REG}/${before.hash}` })).statusCode).toBe(200);
  });

  it('yanks and unyanks a version with a new registry tree each time', async () => {
    const yank = (method: 'POST' | 'DELETE') =>
      larder.app.inject({
        method,
        url: `/julia/api/registries/${REG}/packages/Foo/0.1.0/yank`,
        headers: { authorization: `Bearer ${larder.adminToken}` },
      });
    expect((await yank('POST')).statusCode).toBe(200);
    expect((await registryFiles()).files.get('F/Foo/Versions.toml')).toMatch(
      /\["0\.1\.0"\]\ngit-tree-sha1 = "[0-9a-f]{40}"\nyanked = true\n/,
    );
    expect((await yank('DELETE')).statusCode).toBe(200);
    expect((await registryFiles()).files.get('F/Foo/Versions.toml')).not.toContain('yanked');
  });

  it('stores artifacts by tree hash and serves them at /artifact/{hash}', async () => {
    const tree: FileTree = new Map([
      ['lib/libdemo.so', { kind: 'executable', data: Buffer.from('\x7fELF demo') }],
      ['share/README', { kind: 'file', data: Buffer.from('demo\n') }],
    ]);
    const res = await larder.app.inject({
      method: 'PUT',
      url: `/julia/api/registries/${REG}/packages/Foo/artifacts`,
      payload: await canonicalTarball(tree),
      headers: { 'content-type': 'application/gzip', authorization: `Bearer ${larder.adminToken}` },
    });
    expect(res.statusCode, res.body).toBe(201);
    const hash = JSON.parse(res.body)['git-tree-sha1'] as string;
    const served = await larder.app.inject({ method: 'GET', url: `/julia/artifact/${hash}` });
    expect(served.statusCode).toBe(200);
    expect((await tarTreeHashes(Readable.from([gunzipSync(served.rawPayload)]))).keepEmpty).toBe(hash);
  });

  it('accepts dependencies from a registry the target registry declares, and only those', async () => {
    const DOWN = '1b2c3d4e-0000-4000-8000-000000000002';
    const auth = { authorization: `Bearer ${larder.adminToken}` };
    const bad = await larder.app.inject({
      method: 'POST',
      url: '/julia/api/registries',
      payload: {
        name: 'Broken',
        uuid: '1b2c3d4e-0000-4000-8000-000000000003',
        depends_on: ['1b2c3d4e-0000-4000-8000-0000000000ff'],
      },
      headers: auth,
    });
    expect(bad.statusCode).toBe(400);
    const created = await larder.app.inject({
      method: 'POST',
      url: '/julia/api/registries',
      payload: { name: 'Downstream', uuid: DOWN, depends_on: [REG] },
      headers: auth,
    });
    expect(created.statusCode, created.body).toBe(201);
    const app = project(
      'Appy',
      'cccccccc-2222-4333-8444-555555555555',
      '1.0.0',
      `\n[deps]\nFoo = "${FOO}"\n\n[compat]\nFoo = "0.1"\njulia = "1.6"\n`,
    );
    const res = await larder.app.inject({
      method: 'PUT',
      url: `/julia/api/registries/${DOWN}/packages`,
      payload: await packageTarball(app),
      headers: { ...auth, 'content-type': 'application/gzip' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const packageToml = await larder.registry.docs.get(larder.registry.repos.get('julia')!.id, `registry/${DOWN}/A/Appy/Package.toml`);
    // depends_on is the registry's own rule for dependencies; it is not Pkg's per-package trusted_registries.
    expect(packageToml?.body.toString()).toBe(
      `name = "Appy"\nuuid = "cccccccc-2222-4333-8444-555555555555"\nrepo = "https://larder.test/julia/packages/Appy.jl.git"\n`,
    );
    const listing = (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body.trim().split('\n');
    expect(listing.map((l) => l.split('/')[2])).toEqual([REG, DOWN]);
  });

  it("writes a package's trusted_registries into its Package.toml, keeps it across registrations, and changes it on request", async () => {
    const TRUST = '1b2c3d4e-0000-4000-8000-000000000005';
    const GENERAL = '23338594-aafe-5451-b93e-139f81909106';
    const OTHER = 'e9fceed0-5623-4384-aff0-6db4c442647a';
    const TRUSTY = 'eeeeeeee-2222-4333-8444-555555555555';
    const auth = { authorization: `Bearer ${larder.adminToken}` };
    expect(
      (await larder.app.inject({ method: 'POST', url: '/julia/api/registries', payload: { name: 'Trusting', uuid: TRUST }, headers: auth }))
        .statusCode,
    ).toBe(201);
    // At registry creation it is refused with the explanation of where it belongs.
    const misplaced = await larder.app.inject({
      method: 'POST',
      url: '/julia/api/registries',
      payload: { name: 'Wrong', uuid: '1b2c3d4e-0000-4000-8000-000000000006', trusted_registries: [GENERAL] },
      headers: auth,
    });
    expect(misplaced.statusCode).toBe(400);
    expect(misplaced.body).toContain('Package.toml');
    const register = (version: string, query: string) =>
      packageTarball(project('Trusty', TRUSTY, version, '\n[compat]\njulia = "1.6"\n')).then((payload) =>
        larder.app.inject({
          method: 'PUT',
          url: `/julia/api/registries/${TRUST}/packages${query}`,
          payload,
          headers: { ...auth, 'content-type': 'application/gzip' },
        }),
      );
    const packageToml = async () =>
      (await larder.registry.docs.get(larder.registry.repos.get('julia')!.id, `registry/${TRUST}/T/Trusty/Package.toml`))?.body.toString();
    const head = `name = "Trusty"\nuuid = "${TRUSTY}"\nrepo = "https://larder.test/julia/packages/Trusty.jl.git"\n`;
    expect((await register('1.0.0', `?trusted_registries=${GENERAL}`)).statusCode).toBe(201);
    expect(await packageToml()).toBe(`${head}trusted_registries = ["${GENERAL}"]\n`);
    expect((await register('1.1.0', '')).statusCode).toBe(201);
    expect(await packageToml()).toBe(`${head}trusted_registries = ["${GENERAL}"]\n`);
    expect((await register('1.2.0', `?trusted_registries=${GENERAL},${OTHER}`)).statusCode).toBe(201);
    expect(await packageToml()).toBe(`${head}trusted_registries = ["${GENERAL}", "${OTHER}"]\n`);
    expect((await register('1.3.0', '?trusted_registries=')).statusCode).toBe(201);
    expect(await packageToml()).toBe(head);
    const bad = await register('1.4.0', '?trusted_registries=General');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('trusted_registries');
  });

  it('keeps Registry.toml and Package.toml parseable when a description or repo URL holds control characters', async () => {
    const CTRL = '1b2c3d4e-0000-4000-8000-000000000004';
    const auth = { authorization: `Bearer ${larder.adminToken}` };
    const description = 'Line one\nline two with a NUL \u0000, a DEL \u007f, a CR \r and a "quote" \\ """';
    const created = await larder.app.inject({
      method: 'POST',
      url: '/julia/api/registries',
      payload: { name: 'Controlled', uuid: CTRL, description },
      headers: auth,
    });
    expect(created.statusCode, created.body).toBe(201);
    const pkg = project('Ctrly', 'dddddddd-2222-4333-8444-555555555555', '1.0.0', '\n[compat]\njulia = "1.6"\n');
    const repoUrl = 'https://example.com/a\u0000b\u0001c.git';
    const res = await larder.app.inject({
      method: 'PUT',
      url: `/julia/api/registries/${CTRL}/packages?repo=${encodeURIComponent(repoUrl)}`,
      payload: await packageTarball(pkg),
      headers: { ...auth, 'content-type': 'application/gzip' },
    });
    expect(res.statusCode, res.body).toBe(201);
    // What Pkg reads: the served registry tarball's files.
    const line = (await larder.app.inject({ method: 'GET', url: '/julia/registries' })).body.split('\n').find((l) => l.includes(CTRL))!;
    const served = await larder.app.inject({ method: 'GET', url: `/julia${line}` });
    const files = new Map<string, string>();
    await readTarEntries(Readable.from([gunzipSync(served.rawPayload)]), async ({ parts, body }) => {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c);
      files.set(parts.join('/'), Buffer.concat(chunks).toString('utf8'));
    });
    expect(parseToml(files.get('Registry.toml')!).description).toBe(description);
    expect(parseToml(files.get('C/Ctrly/Package.toml')!).repo).toBe(repoUrl);
  });

  it('registers from a git URL and revision', async () => {
    const repo = path.join(work.path, 'Baz.jl');
    fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'Project.toml'),
      project('Baz', 'abcdefab-cdef-4abc-8def-abcdefabcdef', '0.1.0', '\n[compat]\njulia = "1.6"\n'),
    );
    fs.writeFileSync(path.join(repo, 'src', 'Baz.jl'), 'module Baz end\n');
    await commitRepo(repo, 'v0.1.0');
    const tree = (await run('git', ['-C', repo, 'rev-parse', 'HEAD^{tree}'])).stdout.trim();
    const res = await register({ git: `${gitServer.url}/Baz.jl`, rev: 'v0.1.0' });
    expect(res.statusCode, res.body).toBe(201);
    expect(JSON.parse(res.body).packageTree).toBe(tree);
  });
});

describe('registration refusals change nothing', () => {
  it('leaves no staged blob when a tarball cannot be written', async () => {
    const tree: FileTree = new Map([
      ['Project.toml', { kind: 'file', data: Buffer.alloc(2 << 20, 'x') }],
      ['link', { kind: 'symlink', data: Buffer.from([0xff]) }],
    ]);
    await expect(verifiedTarball(larder.registry, tree)).rejects.toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/symlink link/),
    });
    // Staging lives in a directory per process (storage/staging.ts): no file may be left in any.
    expect(Object.keys(snapshotFiles(path.join(larder.data, 'blobs', 'tmp')))).toEqual([]);
  });

  async function state() {
    const regs = await larder.app.inject({ method: 'GET', url: '/julia/registries' });
    return { registries: regs.body, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
  }

  it('refuses existing versions, renamed or re-UUIDed packages, unknown and self dependencies, bad compat, bad tarballs, missing tokens', async () => {
    const before = await state();
    const cases: Array<[Buffer | object, number, RegExp, string | null]> = [
      [await packageTarball(project('Foo', FOO, '0.1.0')), 409, /version_exists/, larder.adminToken],
      [await packageTarball(project('Food', FOO, '0.2.0')), 400, /change_package_name/, larder.adminToken],
      [
        await packageTarball(project('Foo', 'ffffffff-2222-4333-8444-555555555555', '1.0.0')),
        409,
        /change_package_uuid/,
        larder.adminToken,
      ],
      [
        await packageTarball(
          project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', '\n[deps]\nNope = "bbbbbbbb-2222-4333-8444-555555555555"\n'),
        ),
        400,
        /dependency_not_found/,
        larder.adminToken,
      ],
      [
        await packageTarball(project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', `\n[deps]\nFoo = "${BAR}"\n`)),
        400,
        /name_mismatch/,
        larder.adminToken,
      ],
      [
        await packageTarball(
          project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', '\n[deps]\nQux = "aaaaaaaa-2222-4333-8444-555555555555"\n'),
        ),
        400,
        /package_self_dep/,
        larder.adminToken,
      ],
      [
        await packageTarball(
          project(
            'Qux',
            'aaaaaaaa-2222-4333-8444-555555555555',
            '1.0.0',
            '\n[deps]\nLinearAlgebra = "37e2e46d-f89d-539d-b4ee-000000000000"\n',
          ),
        ),
        400,
        /wrong_stdlib_uuid/,
        larder.adminToken,
      ],
      [
        await packageTarball(project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', '\n[compat]\nJSON = "0.21"\n')),
        400,
        /invalid_compat/,
        larder.adminToken,
      ],
      [
        await packageTarball(project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', '\n[compat]\njulia = "0.6"\n')),
        400,
        /julia_before_07/,
        larder.adminToken,
      ],
      [await packageTarball(project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '0.0.0')), 400, /version_zero/, larder.adminToken],
      [await packageTarball(project('1Bad', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0')), 400, /identifier/, larder.adminToken],
      [await packageTarball(project('Qux', 'not-a-uuid', '1.0.0')), 400, /not a UUID/, larder.adminToken],
      [
        await tarGz([
          { name: 'Project.toml', body: project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0') },
          { name: '../evil', body: 'x' },
        ]),
        400,
        /\.\./,
        larder.adminToken,
      ],
      [
        await tarGz([{ name: 'pkg/Project.toml', body: project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0') }]),
        400,
        /no Project\.toml at its root/,
        larder.adminToken,
      ],
      [Buffer.from('not a tarball'), 400, /./, larder.adminToken],
      [await packageTarball(project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0')), 400, /no entry for julia/, larder.adminToken],
      [
        await packageTarball(
          project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', `\n[deps]\nFoo = "${FOO}"\n\n[compat]\njulia = "1.6"\n`),
        ),
        400,
        /no entry for Foo/,
        larder.adminToken,
      ],
      [
        await packageTarball(
          project(
            'Qux',
            'aaaaaaaa-2222-4333-8444-555555555555',
            '1.0.0',
            `\n[deps]\nFoo = "${FOO}"\n\n[compat]\nFoo = ">= 0.1"\njulia = "1.6"\n`,
          ),
        ),
        400,
        /no upper bound/,
        larder.adminToken,
      ],
      [
        await packageTarball(project('QUX', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0', '\n[compat]\njulia = "1.6"\n')),
        400,
        /naming rules/,
        larder.adminToken,
      ],
      [await packageTarball(project('Qux', 'aaaaaaaa-2222-4333-8444-555555555555', '1.0.0')), 401, /token/, null],
    ];
    for (const [body, status, message, token] of cases) {
      const res = await register(body, token);
      expect(res.statusCode, `${message}: ${res.body}`).toBe(status);
      expect(JSON.parse(res.body).error.message).toMatch(message);
    }
    expect(await state()).toEqual(before);
  });
});
