/**
 * Two Larder nodes on one PostgreSQL database and one S3 bucket: a publish or yank on one is served by the other,
 * even where the other had already cached the file (or its absence) — for every format, and through a group whose
 * hosted member is written on the other node (no member choice kept past it). Tokens and passwords changed through
 * one node apply on the other.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBazelTree } from '../src/formats/bazel/import.js';
import { setRepoPassword } from '../src/formats/brioche/password.js';
import { mirror } from '../src/upstream/mirror.js';
import { mirrorTarget } from '../src/upstream/mirror-target.js';
import type { RepoConfig } from '../src/core/config.js';
import { hostedPublishBody } from './support/bazel.js';
import { basic, hashOf, postTags, putProject } from './support/brioche-registry.js';
import { simplePublishBody, tokenFor } from './support/cargo.js';
import { fakeCratesIo } from './support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { juliaPackageTarball } from './support/julia.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { moduleZip, publishRequest } from './support/moonbit-publish.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startS3, type TestS3 } from './support/s3.js';

let pg: TestPostgres;
let s3: TestS3;
let up: FakeUpstream;
let io: ReturnType<typeof fakeCratesIo>;
let a: TestApp;
let b: TestApp;

const repo = (name: string, format: RepoConfig['format'], extra: Partial<RepoConfig> = {}): RepoConfig => ({
  name,
  format,
  kind: 'hosted',
  visibility: 'public',
  ...extra,
});

beforeAll(async () => {
  pg = await startPostgres();
  s3 = await startS3();
  up = await startFakeUpstream();
  io = fakeCratesIo(up);
  await io.add({ name: 'shadowed', vers: '0.9.0' });
  const url = await pg.newDatabase();
  const blobs = await s3.newBucketUrl();
  const repos = [
    repo('cargo', 'cargo'),
    repo('crates-io', 'cargo', { kind: 'proxy', upstream: `sparse+${up.url}/` }),
    repo('crates', 'cargo', { kind: 'group', members: ['cargo', 'crates-io'] }),
    // The mirror revalidates whatever it holds (ttl 1 ms); clients of the offline proxy never make it fetch.
    repo('crates-offline', 'cargo', { kind: 'proxy', upstream: `sparse+${up.url}/`, offline: true, ttl: 1 }),
    repo('bazel', 'bazel'),
    repo('bazel-imported', 'bazel'),
    repo('julia', 'julia'),
    repo('moonbit', 'moonbit'),
    repo('brioche', 'brioche'),
    repo('brioche-all', 'brioche', { kind: 'group', members: ['brioche'] }),
  ];
  const outbound = { allowPrivate: ['127.0.0.1'], retries: 0 };
  a = await openTestApp({ database: url, blobs, repos, outbound });
  b = await openTestApp({ database: url, blobs, repos, outbound });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await up?.stop();
  await s3?.stop();
  await pg?.stop();
});

type Answer = { statusCode: number; body: string; headers: Record<string, unknown> };

const get = async (app: TestApp, path: string, headers: Record<string, string> = {}): Promise<Answer> =>
  app.app.inject({ method: 'GET', url: path, headers });

/** Polls node `app` until `check` holds (notifications are asynchronous; the latency is measured in bench/, not here). */
async function eventually(app: TestApp, path: string, check: (res: Answer) => boolean, headers: Record<string, string> = {}) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await get(app, path, headers);
    if (check(res) || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const admin = () => ({ authorization: `Bearer ${a.adminToken}` });

describe('several nodes on PostgreSQL', () => {
  it('serves on node B what node A published, although B had cached the 404', async () => {
    const path = '/cargo/index/sh/ar/shared_crate';
    expect((await b.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);
    const { body } = await simplePublishBody('shared_crate', '1.0.0');
    const published = await a.app.inject({
      method: 'PUT',
      url: '/cargo/api/v1/crates/new',
      payload: body,
      headers: { authorization: a.adminToken },
    });
    expect(published.statusCode).toBe(200);
    const onA = await a.app.inject({ method: 'GET', url: path });
    const onB = await eventually(b, path, (r) => r.statusCode === 200);
    expect(onB.statusCode).toBe(200);
    expect(onB.body).toBe(onA.body);
    expect(JSON.parse(onB.body).vers).toBe('1.0.0');
  });

  it('serves on node B a yank made on node A', async () => {
    const path = '/cargo/index/sh/ar/shared_crate';
    const before = await b.app.inject({ method: 'GET', url: path });
    expect(JSON.parse(before.body).yanked).toBe(false);
    const yank = await a.app.inject({
      method: 'DELETE',
      url: '/cargo/api/v1/crates/shared_crate/1.0.0/yank',
      headers: { authorization: a.adminToken },
    });
    expect(yank.body).toBe('{"ok":true}');
    const after = await eventually(b, path, (r) => r.body.includes('"yanked":true'));
    expect(JSON.parse(after.body).yanked).toBe(true);
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it('Bazel: metadata.json and MODULE.bazel published and yanked on A are served by B', async () => {
    const meta = '/bazel/modules/twonode/metadata.json';
    const moduleFile = '/bazel/modules/twonode/1.0.0/MODULE.bazel';
    expect((await get(b, meta)).statusCode).toBe(404);
    expect((await get(b, moduleFile)).statusCode).toBe(404);
    for (const v of ['1.0.0', '1.1.0']) {
      const { payload, contentType } = await hostedPublishBody('twonode', v);
      const res = await a.app.inject({
        method: 'PUT',
        url: `/bazel/api/modules/twonode/${v}`,
        payload,
        headers: { 'content-type': contentType, ...admin() },
      });
      expect(res.statusCode, res.body).toBe(201);
    }
    const onB = await eventually(b, meta, (r) => r.statusCode === 200 && JSON.parse(r.body).versions.length === 2);
    expect(onB.body).toBe((await get(a, meta)).body);
    const file = await eventually(b, moduleFile, (r) => r.statusCode === 200);
    expect(file.body).toBe((await get(a, moduleFile)).body);
    // The archive Larder hosts is read from the shared blob store.
    const archive = await get(b, '/bazel/archives/twonode/1.0.0/twonode-1.0.0.tar.gz');
    expect(archive.statusCode).toBe(200);

    const yank = await a.app.inject({
      method: 'POST',
      url: '/bazel/api/modules/twonode/1.0.0/yank',
      payload: { reason: 'use 1.1.0' },
      headers: admin(),
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const yanked = await eventually(b, meta, (r) => JSON.parse(r.body).yanked_versions['1.0.0'] !== undefined);
    expect(JSON.parse(yanked.body).yanked_versions).toEqual({ '1.0.0': 'use 1.1.0' });
  });

  it('Bazel: a tree imported through A into an empty repo is served by B, which had cached the absences', async () => {
    // An import into an empty repo announces the repo as a whole (one NOTIFY per transaction, not one per file).
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-two-node-import-'));
    try {
      const metadata = '{"versions": ["1.0.0"]}\n';
      const moduleFile = 'module(name = "imported", version = "1.0.0")\n';
      fs.mkdirSync(path.join(tree, 'modules/imported/1.0.0'), { recursive: true });
      fs.writeFileSync(path.join(tree, 'modules/imported/metadata.json'), metadata);
      fs.writeFileSync(path.join(tree, 'modules/imported/1.0.0/MODULE.bazel'), moduleFile);
      const urls = ['/bazel-imported/modules/imported/metadata.json', '/bazel-imported/modules/imported/1.0.0/MODULE.bazel'];
      for (const url of urls) expect((await get(b, url)).statusCode).toBe(404);
      const summary = await importBazelTree(a.registry, a.registry.repos.get('bazel-imported')!, tree);
      expect(summary).toMatchObject({ added: 2, changed: 0 });
      for (const [url, body] of [
        [urls[0], metadata],
        [urls[1], moduleFile],
      ]) {
        const res = await eventually(b, url, (r) => r.statusCode === 200);
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe(body);
      }
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });

  it('Julia: /registries and the registry tarball it names follow registrations and yanks on A', async () => {
    const reg = randomUUID();
    const created = await a.app.inject({
      method: 'POST',
      url: '/julia/api/registries',
      payload: { name: 'TwoNodes', uuid: reg },
      headers: admin(),
    });
    expect(created.statusCode, created.body).toBe(201);
    const listed = () => get(b, '/julia/registries');
    const first = await eventually(b, '/julia/registries', (r) => r.body.includes(reg));
    const register = async (version: string) => {
      const res = await a.app.inject({
        method: 'PUT',
        url: `/julia/api/registries/${reg}/packages`,
        payload: await juliaPackageTarball('TwoNodePkg', '5f0c3a2e-9d7b-4c1e-8a6f-2b4d6e8f0a1c', version),
        headers: { 'content-type': 'application/gzip', ...admin() },
      });
      expect(res.statusCode, res.body).toBe(201);
    };
    await register('0.1.0');
    await register('0.2.0');
    const afterRegister = await eventually(b, '/julia/registries', (r) => r.body !== first.body);
    expect(afterRegister.body).toBe((await get(a, '/julia/registries')).body);
    // The tarball /registries names on B is there (blob store shared) and is what A serves.
    const line = afterRegister.body.split('\n').find((l) => l.includes(reg))!;
    const tarball = await get(b, `/julia${line}`);
    expect(tarball.statusCode).toBe(200);

    const yank = await a.app.inject({
      method: 'POST',
      url: `/julia/api/registries/${reg}/packages/TwoNodePkg/0.1.0/yank`,
      headers: admin(),
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const afterYank = await eventually(b, '/julia/registries', (r) => r.body !== afterRegister.body);
    expect(afterYank.body).toBe((await get(a, '/julia/registries')).body);
    expect((await listed()).body).toContain(reg);
  });

  it('MoonBit: the .index file and moon’s module list follow publishes and yanks on A', async () => {
    const index = '/moonbit/index/user/twonode/json.index';
    expect((await get(b, index)).statusCode).toBe(404);
    expect(JSON.parse((await get(b, '/moonbit/api/v0/modules')).body)).toEqual([]);
    for (const v of ['0.1.0', '0.2.0']) {
      const res = await a.app.inject(await publishRequest('moonbit', a.adminToken, moduleZip({ name: 'twonode/json', version: v })));
      expect(res.statusCode, res.body).toBe(200);
    }
    const onB = await eventually(b, index, (r) => r.statusCode === 200 && r.body.trim().split('\n').length === 2);
    expect(onB.body).toBe((await get(a, index)).body);
    const modules = await eventually(b, '/moonbit/api/v0/modules', (r) => r.body.includes('twonode/json'));
    expect(JSON.parse(modules.body).map((m: { name: string }) => m.name)).toEqual(['twonode/json']);

    const yank = await a.app.inject({
      method: 'POST',
      url: '/moonbit/api/v0/yank',
      payload: { module: 'twonode/json', version: '0.1.0', reason: 'broken' },
      headers: admin(),
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const yanked = await eventually(b, '/moonbit/index/yanked.json', (r) => r.statusCode === 200 && r.body.includes('twonode/json'));
    expect(yanked.body).toBe((await get(a, '/moonbit/index/yanked.json')).body);
  });

  it('Brioche: a tag document, directly and through a group, follows tag moves on A; a password changed on A applies on B', async () => {
    const tag = '/brioche/registry/v0/project-tags/twonode/latest';
    const viaGroup = '/brioche-all/registry/v0/project-tags/twonode/latest';
    expect((await get(b, tag)).statusCode).toBe(404);
    expect((await get(b, viaGroup)).statusCode).toBe(404);
    for (const seed of ['one', 'two']) {
      const hash = hashOf(`twonode ${seed}`);
      await putProject(a.registry, 'brioche', hash);
      const res = await postTags(a.app, 'brioche', [{ projectName: 'twonode', tag: 'latest', projectHash: hash }], a.adminToken);
      expect(res.statusCode, res.body).toBe(200);
      for (const path of [tag, viaGroup]) {
        const seen = await eventually(b, path, (r) => r.statusCode === 200 && r.body.includes(hash));
        expect(seen.body).toBe((await get(a, tag)).body);
      }
    }

    // The password is checked on writes (a public repo's reads need none): tag moves posted to B with it.
    const repo = a.registry.repos.get('brioche')!;
    const moveWith = async (password: string, seed: string) => {
      const hash = hashOf(`twonode ${seed}`);
      await putProject(a.registry, 'brioche', hash);
      return postTags(b.app, 'brioche', [{ projectName: 'twonode', tag: 'latest', projectHash: hash }], basic(password));
    };
    await setRepoPassword(a.registry, repo, 'first-password-1234');
    expect((await moveWith('first-password-1234', 'three')).statusCode).toBe(200);
    await setRepoPassword(a.registry, repo, 'second-password-1234');
    const refused = await moveWith('first-password-1234', 'four');
    expect(refused.statusCode).toBe(401);
    expect((await moveWith('second-password-1234', 'five')).statusCode).toBe(200);
  });

  it('a group serves on B the hosted package published on A, where B had cached the proxy member’s copy or nobody’s', async () => {
    const shadowed = '/crates/index/sh/ad/shadowed';
    const fromProxy = await get(b, shadowed);
    expect(fromProxy.statusCode).toBe(200);
    expect(JSON.parse(fromProxy.body).vers).toBe('0.9.0');
    const nobody = '/crates/index/no/bo/nobody_yet';
    expect((await get(b, nobody)).statusCode).toBe(404);
    for (const name of ['shadowed', 'nobody_yet']) {
      const { body } = await simplePublishBody(name, '1.0.0');
      const res = await a.app.inject({
        method: 'PUT',
        url: '/cargo/api/v1/crates/new',
        payload: body,
        headers: { authorization: a.adminToken },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    // The hosted member wins as soon as B hears of the publish, not when a kept choice runs out.
    const hosted = await eventually(b, shadowed, (r) => r.body.includes('"1.0.0"'));
    expect(hosted.body).toBe((await get(a, '/cargo/index/sh/ad/shadowed')).body);
    const appeared = await eventually(b, nobody, (r) => r.statusCode === 200);
    expect(JSON.parse(appeared.body).vers).toBe('1.0.0');
  });

  it('an offline proxy on B serves what `larder mirror` stored through A, although B held an older copy', async () => {
    const path = '/crates-offline/index/sh/ad/shadowed';
    const mirrorOnA = () => mirror(mirrorTarget(a.registry, 'crates-offline'), { patterns: ['shadowed'], strict: true });
    expect((await mirrorOnA()).failures).toEqual([]);
    const held = await get(b, path);
    expect(held.statusCode).toBe(200);
    expect(held.body).not.toContain('"0.9.1"');
    await io.add({ name: 'shadowed', vers: '0.9.1' });
    expect((await mirrorOnA()).failures).toEqual([]);
    const seen = await eventually(b, path, (r) => r.body.includes('"0.9.1"'));
    expect(seen.body).toContain('"0.9.1"');
    expect(seen.body).toBe((await get(a, path)).body);
  });

  it('a token revoked on A is refused on B', async () => {
    const token = await tokenFor(a.registry, 'twonode-user', { scopes: ['read'] });
    const me = () => get(b, '/-/api/me', { authorization: `Bearer ${token}` });
    expect((await me()).statusCode).toBe(200);
    const row = await a.registry.auth.authenticate(token);
    await a.registry.auth.revokeToken(String(row.tokenId));
    const refused = await me();
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('revoked');
  });
});
