/**
 * `larder verify` as a user runs it: a consistent store (Cargo, Bazel, Julia) passes; a flipped
 * byte, a deleted blob and a tampered index document are each named and make it exit 1. With S3
 * blobs, the same re-hash runs against the bucket.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as sdk from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import { verifyRegistry } from '../src/registry/verify.js';
import { parseS3Url } from '../src/storage/s3-blobs.js';
import { tarGz } from './support/archives.js';
import { PRESUBMIT_YML } from './support/bazel.js';
import { sha256Hex, simplePublishBody } from './support/cargo.js';
import { larder } from './support/cli.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { startS3 } from './support/s3.js';

const JULIA_REG = '1b2c3d4e-0000-4000-8000-00000000beef';
let t: TestApp;
const shas: Record<string, string> = {};

/** The file a blob is stored in (fs store layout). */
function blobFile(sha: string): string {
  return path.join(t.data, 'blobs', 'sha256', sha.slice(0, 2), sha.slice(2, 4), sha);
}

async function verify(): Promise<{ code: number; stdout: string; stderr: string }> {
  return larder(path.dirname(t.data), ['verify', '--data', t.data]);
}

beforeAll(async () => {
  t = await openTestApp();
  for (const [name, vers] of [
    ['alpha', '1.0.0'],
    ['alpha', '1.1.0'],
    ['beta', '0.1.0'],
  ] as const) {
    const { body } = await simplePublishBody(name, vers);
    const res = await t.app.inject({
      method: 'PUT',
      url: '/cargo/api/v1/crates/new',
      payload: body,
      headers: { authorization: t.adminToken },
    });
    expect(res.statusCode, res.body).toBe(200);
    const line = JSON.parse(
      (await t.app.inject({ url: `/cargo/index/${name === 'alpha' ? 'al/ph' : 'be/ta'}/${name}` })).body.trim().split('\n').pop()!,
    ) as { cksum: string };
    shas[`${name}@${vers}`] = line.cksum;
  }
  // A Bazel module with a hosted archive, and a Julia registry with one package.
  const moduleText = 'module(\n    name = "vmod",\n    version = "1.0.0",\n)\n';
  const form = new FormData();
  form.append('MODULE.bazel', new Blob([moduleText]), 'MODULE.bazel');
  form.append(
    'archive',
    new Blob([
      new Uint8Array(
        await tarGz([
          { name: 'src/MODULE.bazel', body: moduleText },
          { name: 'src/lib.cc', body: 'int f();\n' },
        ]),
      ),
    ]),
    'src.tar.gz',
  );
  form.append('strip_prefix', 'src');
  form.append('presubmit.yml', new Blob([PRESUBMIT_YML]), 'presubmit.yml');
  const encoded = new Response(form);
  const auth = { authorization: `Bearer ${t.adminToken}` };
  const bazel = await t.app.inject({
    method: 'PUT',
    url: '/bazel/api/modules/vmod/1.0.0',
    payload: Buffer.from(await encoded.arrayBuffer()),
    headers: { 'content-type': encoded.headers.get('content-type')!, ...auth },
  });
  expect(bazel.statusCode, bazel.body).toBe(201);
  const created = await t.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'VerifyRegistry', uuid: JULIA_REG, description: 'verify test' },
    headers: auth,
  });
  expect(created.statusCode, created.body).toBe(201);
  const pkg = await canonicalTarball(
    new Map([
      [
        'Project.toml',
        {
          kind: 'file',
          data: Buffer.from('name = "Vpkg"\nuuid = "11111111-2222-4333-8444-555555555555"\nversion = "0.1.0"\n\n[compat]\njulia = "1.6"\n'),
        },
      ],
      ['src/Vpkg.jl', { kind: 'file', data: Buffer.from('module Vpkg end\n') }],
    ]),
  );
  const registered = await t.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${JULIA_REG}/packages`,
    payload: pkg,
    headers: { 'content-type': 'application/gzip', ...auth },
  });
  expect(registered.statusCode, registered.body).toBe(201);
});
afterAll(async () => {
  await t?.stop();
});

describe('larder verify', () => {
  it('passes on a consistent store and says what it checked', async () => {
    const r = await verify();
    expect(r.stderr).not.toContain('problem');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/checked \d+ blobs re-hashed/);
    expect(r.stdout).toContain('checked 2 cargo: index files');
    expect(r.stdout).toContain('checked 1 bazel: hosted archives');
    expect(r.stdout).toContain('checked 1 julia: registries');
    expect(r.stdout).toMatch(/checked [3-9] julia: tarballs/);
    expect(r.stdout).toContain('ok: no problems found');
  });

  it('names a blob with a flipped byte and the crate that needs it', async () => {
    const file = blobFile(shas['alpha@1.1.0']);
    const original = fs.readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[100] ^= 0x01;
    fs.writeFileSync(file, flipped);
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`blob ${shas['alpha@1.1.0']} is corrupt`);
      expect(r.stderr).toContain('.crate of alpha@1.1.0');
      expect(r.stderr).not.toContain('beta');
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it('names a deleted blob', async () => {
    const file = blobFile(shas['beta@0.1.0']);
    const original = fs.readFileSync(file);
    fs.rmSync(file);
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`blob ${shas['beta@0.1.0']} is missing from the blob store`);
      expect(r.stderr).toContain('.crate of beta@0.1.0');
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it('names a tampered index document', async () => {
    const repoId = t.registry.repos.get('cargo')!.id;
    const doc = await t.registry.db
      .selectFrom('index_docs')
      .select('body')
      .where('repo_id', '=', repoId)
      .where('path', '=', 'al/ph/alpha')
      .executeTakeFirstOrThrow();
    const tampered = Buffer.from(Buffer.from(doc.body).toString('utf8').replace('"yanked":false', '"yanked":true'));
    await t.registry.db
      .updateTable('index_docs')
      .set({ body: tampered })
      .where('repo_id', '=', repoId)
      .where('path', '=', 'al/ph/alpha')
      .execute();
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('cargo: index file al/ph/alpha of crate alpha differs from its 2 version(s) in the database');
      expect(r.stderr).toContain('1 problem(s) found');
    } finally {
      await t.registry.db
        .updateTable('index_docs')
        .set({ body: doc.body })
        .where('repo_id', '=', repoId)
        .where('path', '=', 'al/ph/alpha')
        .execute();
    }
    expect((await verify()).code).toBe(0);
  });

  it('names a Julia registry whose files no longer hash to its recorded tree', async () => {
    const repoId = t.registry.repos.get('julia')!.id;
    const docPath = `registry/${JULIA_REG}/Registry.toml`;
    const doc = await t.registry.db
      .selectFrom('index_docs')
      .select('body')
      .where('repo_id', '=', repoId)
      .where('path', '=', docPath)
      .executeTakeFirstOrThrow();
    await t.registry.db
      .updateTable('index_docs')
      .set({ body: Buffer.concat([Buffer.from(doc.body), Buffer.from('# edited by hand\n')]) })
      .where('repo_id', '=', repoId)
      .where('path', '=', docPath)
      .execute();
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `julia: registry VerifyRegistry \\(${JULIA_REG}\\): its \\d+ files hash to tree [0-9a-f]{40}, the database says [0-9a-f]{40}`,
        ),
      );
    } finally {
      await t.registry.db
        .updateTable('index_docs')
        .set({ body: doc.body })
        .where('repo_id', '=', repoId)
        .where('path', '=', docPath)
        .execute();
    }
  });
});

describe('verify with S3 blobs', () => {
  it('re-hashes blobs in the bucket and names a corrupt and a missing one', async () => {
    const s3 = await startS3();
    const url = await s3.newBucketUrl();
    const app = await openTestApp({ blobs: url, repos: [{ name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' }] });
    const target = parseS3Url(url);
    const client = new sdk.S3Client({ endpoint: target.endpoint, region: target.region, forcePathStyle: true });
    try {
      const cksums: string[] = [];
      for (const name of ['s3_one', 's3_two']) {
        const { body, crate } = await simplePublishBody(name, '1.0.0');
        expect(
          (
            await app.app.inject({
              method: 'PUT',
              url: '/cargo/api/v1/crates/new',
              payload: body,
              headers: { authorization: app.adminToken },
            })
          ).statusCode,
        ).toBe(200);
        cksums.push(sha256Hex(crate));
      }
      expect((await verifyRegistry(app.registry)).problems).toEqual([]);
      const key = (sha: string) => `${target.prefix}/sha256/${sha.slice(0, 2)}/${sha}`;
      await client.send(new sdk.PutObjectCommand({ Bucket: target.bucket, Key: key(cksums[0]), Body: Buffer.from('not the crate') }));
      await client.send(new sdk.DeleteObjectCommand({ Bucket: target.bucket, Key: key(cksums[1]) }));
      const { problems } = await verifyRegistry(app.registry);
      expect(problems).toContain(
        `cargo: .crate of s3_one@1.0.0 needs blob ${cksums[0]}, which is corrupt: its 13 bytes hash to ${sha256Hex(Buffer.from('not the crate'))}`,
      );
      expect(problems).toContain(`cargo: .crate of s3_two@1.0.0 needs blob ${cksums[1]}, which is missing from the blob store`);
    } finally {
      client.destroy();
      await app.stop();
      await s3.stop();
    }
  }, 60_000);
});
