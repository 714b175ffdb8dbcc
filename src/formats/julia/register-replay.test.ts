/**
 * Retried Julia writes (issue 13): a registration sent again with the same package (tarball, multipart
 * with artifacts, git URL) is answered as the success it was and changes nothing; a different one for the
 * same version stays `version_exists`; concurrent registrations end as one; yanks, registry creation and
 * artifact uploads repeat without effect; permission is checked again on every retry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../../../test/support/cargo.js';
import { commitRepo, startGitServer, type GitServer } from '../../../test/support/git-server.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { registryState } from '../../../test/support/state.js';
import { growth } from '../../../test/support/state-growth.js';
import { tempDir } from '../../../test/support/tmp.js';
import { canonicalTarball } from './tarball.js';
import { treeHash, type FileTree } from './tree-hash.js';

const REG = '1b2c3d4e-0000-4000-8000-0000000000aa';
const DEP = '22222222-2222-4333-8444-000000000001';
let t: TestApp;
let gitServer: GitServer;
let alice: string;
const work = tempDir('larder-julia-replay-');

const uuidOf = (n: number) => `33333333-2222-4333-8444-${String(n).padStart(12, '0')}`;

function projectToml(name: string, uuid: string, version: string, extra = ''): string {
  return `name = "${name}"\nuuid = "${uuid}"\nversion = "${version}"\n${extra}\n[compat]\njulia = "1.6"\n`;
}

function packageTree(toml: string, source = 'module Pkg end\n'): FileTree {
  return new Map([
    ['Project.toml', { kind: 'file', data: Buffer.from(toml) }],
    ['src/Pkg.jl', { kind: 'file', data: Buffer.from(source) }],
  ]);
}

async function tarball(name: string, uuid: string, version: string, source?: string): Promise<Buffer> {
  return canonicalTarball(packageTree(projectToml(name, uuid, version), source));
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

function register(body: Buffer | object, token = alice, query = '') {
  return t.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages${query}`,
    payload: body as Buffer,
    headers: { 'content-type': Buffer.isBuffer(body) ? 'application/gzip' : 'application/json', ...auth(token) },
  });
}

async function multipart(pkg: Buffer, artifacts: Buffer[]): Promise<{ payload: Buffer; type: string }> {
  const form = new FormData();
  form.append('package', new Blob([new Uint8Array(pkg)]), 'pkg.tar.gz');
  for (const a of artifacts) form.append('artifact', new Blob([new Uint8Array(a)]), 'a.tar.gz');
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), type: encoded.headers.get('content-type')! };
}

const snapshot = () => registryState(t.registry, t.data);

async function doc(rel: string): Promise<string | undefined> {
  return (await t.registry.docs.get(t.registry.repos.get('julia')!.id, `registry/${REG}/${rel}`))?.body.toString();
}

/** Sends `send` and checks it was refused with `status` and `message`, changing nothing. */
async function refused(send: () => Promise<{ statusCode: number; body: string }>, status: number, message: RegExp): Promise<void> {
  const before = await snapshot();
  const res = await send();
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status, body: expect.stringMatching(message) });
  expect(await snapshot()).toEqual(before);
}

beforeAll(async () => {
  gitServer = await startGitServer(work.path, { tls: true });
  t = await openTestApp({
    repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }],
    outbound: { allowPrivate: ['127.0.0.1'], caFile: gitServer.caFile },
  });
  const created = await t.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'Retries', uuid: REG, description: 'retried writes' },
    headers: auth(t.adminToken),
  });
  expect(created.statusCode, created.body).toBe(201);
  alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
  expect((await register(await tarball('Dep', DEP, '1.0.0'))).statusCode).toBe(201);
});
afterAll(async () => {
  await t?.stop();
  await gitServer?.close();
  work.remove();
});

describe('a registration sent again', () => {
  it('answers 201 with the same package, path and the registry tree it is in, and changes nothing', async () => {
    const body = await canonicalTarball(
      packageTree(projectToml('Rep', uuidOf(1), '1.0.0', `\n[deps]\nDep = "${DEP}"\n`).replace('[compat]\n', '[compat]\nDep = "1"\n')),
    );
    const first = await register(body);
    expect(first.statusCode, first.body).toBe(201);
    const before = await snapshot();
    const again = await register(body);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
  });

  it('answers a multipart registration with its artifacts again without storing or auditing anything', async () => {
    const artifact = packageTree('artifact\n');
    const form = await multipart(await tarball('Arty', uuidOf(2), '0.1.0'), [await canonicalTarball(artifact)]);
    const send = () =>
      t.app.inject({
        method: 'PUT',
        url: `/julia/api/registries/${REG}/packages`,
        payload: form.payload,
        headers: { 'content-type': form.type, ...auth(alice) },
      });
    const first = await send();
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().artifacts).toEqual([treeHash(artifact)]);
    const before = await snapshot();
    const again = await send();
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
  });

  it('answers a registration from a git URL again (same commit) without a change', async () => {
    const dir = path.join(work.path, 'Gitty.jl');
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'Project.toml'), projectToml('Gitty', uuidOf(3), '0.1.0'));
    fs.writeFileSync(path.join(dir, 'src', 'Gitty.jl'), 'module Gitty end\n');
    await commitRepo(dir, 'v0.1.0');
    const body = { git: `${gitServer.url}/Gitty.jl`, rev: 'v0.1.0' };
    const first = await register(body);
    expect(first.statusCode, first.body).toBe(201);
    const before = await snapshot();
    const again = await register(body);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
  });

  it('answers the current registry tree once other packages were registered in between', async () => {
    const body = await tarball('Early', uuidOf(4), '1.0.0');
    const first = await register(body);
    expect((await register(await tarball('Later', uuidOf(5), '1.0.0'))).statusCode).toBe(201);
    const current = (await t.app.inject({ method: 'GET', url: '/julia/registries' })).body.trim().split('/')[3];
    const before = await snapshot();
    const again = await register(body);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual({ ...first.json(), registryTree: current });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses different bytes, a different ?repo= or ?trusted_registries= for a registered version as before: version_exists', async () => {
    await register(await tarball('Diff', uuidOf(6), '1.0.0'));
    const message = /Diff 1\.0\.0 is already registered \(version_exists\); bump the version in Project\.toml/;
    await refused(async () => register(await tarball('Diff', uuidOf(6), '1.0.0', 'module Other end\n')), 409, message);
    await refused(
      async () => register(await tarball('Diff', uuidOf(6), '1.0.0'), alice, '?repo=https://example.com/Diff.jl.git'),
      409,
      message,
    );
    await refused(
      async () => register(await tarball('Diff', uuidOf(6), '1.0.0'), alice, `?trusted_registries=${uuidOf(99)}`),
      409,
      message,
    );
  });

  it('answers success after a yank made in between, and the version stays yanked', async () => {
    const body = await tarball('Yanky', uuidOf(7), '1.0.0');
    expect((await register(body)).statusCode).toBe(201);
    const yank = await t.app.inject({
      method: 'POST',
      url: `/julia/api/registries/${REG}/packages/Yanky/1.0.0/yank`,
      headers: auth(alice),
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const before = await snapshot();
    const again = await register(body);
    expect(again.statusCode, again.body).toBe(201);
    expect(await snapshot()).toEqual(before);
    expect(await doc('Y/Yanky/Versions.toml')).toMatch(/yanked = true/);
  });

  it('is refused to a token that could not register it now: no publish scope, another package pattern, not an owner', async () => {
    const body = await tarball('Owned', uuidOf(8), '1.0.0');
    expect((await register(body)).statusCode).toBe(201);
    const readOnly = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
    const otherPattern = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'Zed*' });
    const mallory = await tokenFor(t.registry, 'mallory', { scopes: ['publish'] });
    await refused(() => register(body, readOnly), 403, /publish/);
    await refused(() => register(body, otherPattern), 403, /Owned/);
    await refused(() => register(body, mallory), 403, /not an owner of package Owned/);
  });
});

describe('concurrent registrations of one version', () => {
  it('identical ones both succeed and leave what one registration leaves', async () => {
    let before = await snapshot();
    expect((await register(await tarball('Single', uuidOf(10), '1.0.0'))).statusCode).toBe(201);
    const single = growth(before, await snapshot());

    const body = await tarball('Twice', uuidOf(11), '1.0.0');
    before = await snapshot();
    const [a, b] = await Promise.all([register(body), register(body)]);
    expect([a.statusCode, b.statusCode], a.body + b.body).toEqual([201, 201]);
    expect(a.json().packageTree).toBe(b.json().packageTree);
    expect(growth(before, await snapshot())).toEqual(single);
    expect((await doc('T/Twice/Versions.toml'))?.match(/\["1\.0\.0"\]/g)).toHaveLength(1);
  });

  it('different ones: one wins, the other is version_exists, and the state is that of one registration', async () => {
    let before = await snapshot();
    expect((await register(await tarball('Alone', uuidOf(12), '1.0.0'))).statusCode).toBe(201);
    const single = growth(before, await snapshot());

    before = await snapshot();
    const [a, b] = await Promise.all([
      register(await tarball('Race', uuidOf(13), '1.0.0', 'module A end\n')),
      register(await tarball('Race', uuidOf(13), '1.0.0', 'module B end\n')),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
    expect((a.statusCode === 409 ? a : b).body).toMatch(/version_exists/);
    expect(growth(before, await snapshot())).toEqual(single);
    const winner = (a.statusCode === 201 ? a : b).json().packageTree as string;
    expect(await doc('R/Race/Versions.toml')).toContain(`git-tree-sha1 = "${winner}"`);
  });
});

describe('other Julia writes sent again', () => {
  const yank = (method: 'POST' | 'DELETE', reason?: string) =>
    t.app.inject({
      method,
      url: `/julia/api/registries/${REG}/packages/Again/1.0.0/yank`,
      ...(reason ? { payload: { reason } } : {}),
      headers: auth(alice),
    });

  it('a yank with the same reason, and an unyank, change nothing the second time', async () => {
    expect((await register(await tarball('Again', uuidOf(20), '1.0.0'))).statusCode).toBe(201);
    const first = await yank('POST', 'broken build');
    expect(first.statusCode, first.body).toBe(200);
    let before = await snapshot();
    const again = await yank('POST', 'broken build');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);

    const undo = await yank('DELETE');
    expect(undo.statusCode).toBe(200);
    before = await snapshot();
    const undoAgain = await yank('DELETE');
    expect(undoAgain.statusCode).toBe(200);
    expect(undoAgain.json()).toEqual(undo.json());
    expect(await snapshot()).toEqual(before);
  });

  it('creating the same registry again answers 201 with its first tree; a different one stays a name collision', async () => {
    const create = (payload: object) =>
      t.app.inject({ method: 'POST', url: '/julia/api/registries', payload, headers: auth(t.adminToken) });
    const uuid = '1b2c3d4e-0000-4000-8000-0000000000bb';
    const body = { name: 'Created', uuid, description: 'once', depends_on: [REG] };
    const first = await create(body);
    expect(first.statusCode, first.body).toBe(201);
    const before = await snapshot();
    const again = await create(body);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
    for (const other of [
      { ...body, description: 'twice' },
      { ...body, depends_on: [] },
      { ...body, uuid: uuidOf(30) },
    ])
      await refused(() => create(other), 409, /a registry named Created or with uuid .* already exists/);
    const publisher = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
    await refused(
      () => t.app.inject({ method: 'POST', url: '/julia/api/registries', payload: body, headers: auth(publisher) }),
      403,
      /admin/,
    );
  });

  it('an artifact uploaded again is answered with its tree hash and records nothing', async () => {
    const artifact = await canonicalTarball(packageTree('uploaded twice\n'));
    const send = () =>
      t.app.inject({
        method: 'PUT',
        url: `/julia/api/registries/${REG}/packages/Again/artifacts`,
        payload: artifact,
        headers: { 'content-type': 'application/gzip', ...auth(alice) },
      });
    const first = await send();
    expect(first.statusCode, first.body).toBe(201);
    const before = await snapshot();
    const again = await send();
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
  });

  it('adding an owner again, and removing one again, change nothing (no audit entry either)', async () => {
    await tokenFor(t.registry, 'bob', { scopes: ['read'] });
    const manager = await tokenFor(t.registry, 'alice', { scopes: ['owners'] });
    const owners = (method: 'PUT' | 'DELETE') =>
      t.app.inject({
        method,
        url: `/-/api/repos/julia/packages/Again/owners`,
        payload: { users: ['bob'] },
        headers: { authorization: `Bearer ${manager}` },
      });
    for (const method of ['PUT', 'DELETE'] as const) {
      const first = await owners(method);
      expect(first.statusCode, first.body).toBe(200);
      const before = await snapshot();
      const again = await owners(method);
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json()).toEqual(first.json());
      expect(await snapshot()).toEqual(before);
    }
  });
});
