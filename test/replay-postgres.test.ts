/**
 * Retried and concurrent publishes across two nodes on one PostgreSQL and one S3-compatible store
 * (issue 13, "Retries of publishes"): what a load balancer that retries a PUT/POST produces. The same
 * Julia registration, MoonBit publish or Brioche cache write sent to both nodes at once ends as one
 * write, answered as a success on both; different content for one version: one wins, the other is
 * refused; nothing is left behind by the loser. Concurrent registrations of different Julia packages
 * on the two nodes both stay (registry writers are serialised).
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { blake3 } from 'hash-wasm';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RepoConfig } from '../src/core/config.js';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import type { FileTree } from '../src/formats/julia/tree-hash.js';
import { zstd } from './support/brioche-archive.js';
import { tokenFor } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { moduleZip, publishRequest } from './support/moonbit-publish.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startS3, type TestS3 } from './support/s3.js';
import { growth, postgresState } from './support/state-growth.js';

const REG = '1b2c3d4e-0000-4000-8000-0000000000cc';
const REPOS: RepoConfig[] = [
  { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
  { name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' },
  { name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public' },
];

let pg: TestPostgres;
let s3: TestS3;
let bucketUrl: string;
let a: TestApp;
let b: TestApp;
let alice: string;

beforeAll(async () => {
  pg = await startPostgres();
  s3 = await startS3();
  const database = await pg.newDatabase();
  bucketUrl = await s3.newBucketUrl();
  a = await openTestApp({ database, blobs: bucketUrl, repos: REPOS });
  b = await openTestApp({ database, blobs: bucketUrl, repos: REPOS });
  alice = await tokenFor(a.registry, 'alice', { scopes: ['publish'] });
  const created = await a.app.inject({
    method: 'POST',
    url: '/julia/api/registries',
    payload: { name: 'Shared', uuid: REG },
    headers: { authorization: `Bearer ${a.adminToken}` },
  });
  expect(created.statusCode, created.body).toBe(201);
}, 120_000);
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await s3?.stop();
  await pg?.stop();
});

/** The objects in the blob bucket (what a stray blob would add to). */
async function bucketObjects(): Promise<number> {
  const url = new URL(bucketUrl);
  const client = new S3Client({ endpoint: url.searchParams.get('endpoint')!, region: 'us-east-1', forcePathStyle: true });
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: url.hostname }));
    return listed.KeyCount ?? 0;
  } finally {
    client.destroy();
  }
}

/** The database's rows and the bucket's object count. */
async function snapshot() {
  return { ...(await postgresState(a.registry.db)), objects: await bucketObjects() };
}

/** What a write added: rows per table, and objects in the bucket. */
function grown(before: Awaited<ReturnType<typeof snapshot>>, after: Awaited<ReturnType<typeof snapshot>>) {
  return { ...growth(before, after), objects: after.objects - before.objects };
}

const uuidOf = (n: number) => `44444444-2222-4333-8444-${String(n).padStart(12, '0')}`;

async function juliaPackage(name: string, uuid: string, source = 'module Pkg end\n'): Promise<Buffer> {
  const tree: FileTree = new Map([
    [
      'Project.toml',
      { kind: 'file', data: Buffer.from(`name = "${name}"\nuuid = "${uuid}"\nversion = "1.0.0"\n\n[compat]\njulia = "1.6"\n`) },
    ],
    ['src/Pkg.jl', { kind: 'file', data: Buffer.from(source) }],
  ]);
  return canonicalTarball(tree);
}

const register = (node: TestApp, body: Buffer) =>
  node.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: body,
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${alice}` },
  });

describe('Julia registrations on two nodes', () => {
  it('the same registration on both at once: both 201, the state of one registration; a retry later changes nothing', async () => {
    let before = await snapshot();
    expect((await register(a, await juliaPackage('Solo', uuidOf(1)))).statusCode).toBe(201);
    const one = grown(before, await snapshot());

    const body = await juliaPackage('Both', uuidOf(2));
    before = await snapshot();
    const [x, y] = await Promise.all([register(a, body), register(b, body)]);
    expect([x.statusCode, y.statusCode], x.body + y.body).toEqual([201, 201]);
    expect(x.json().packageTree).toBe(y.json().packageTree);
    expect(grown(before, await snapshot())).toEqual(one);

    before = await snapshot();
    expect((await register(b, body)).statusCode).toBe(201);
    expect(await snapshot()).toEqual(before);
  });

  it('different content for one version on both at once: one 201, one version_exists, the state of one registration', async () => {
    let before = await snapshot();
    expect((await register(a, await juliaPackage('Lone', uuidOf(3)))).statusCode).toBe(201);
    const one = grown(before, await snapshot());

    before = await snapshot();
    const [x, y] = await Promise.all([
      register(a, await juliaPackage('Rival', uuidOf(4), 'module A end\n')),
      register(b, await juliaPackage('Rival', uuidOf(4), 'module B end\n')),
    ]);
    expect([x.statusCode, y.statusCode].sort()).toEqual([201, 409]);
    expect((x.statusCode === 409 ? x : y).body).toMatch(/version_exists/);
    expect(grown(before, await snapshot())).toEqual(one);
  });

  it('different packages registered on both at once are both in the registry (no lost update)', async () => {
    const [x, y] = await Promise.all([
      register(a, await juliaPackage('Left', uuidOf(5))),
      register(b, await juliaPackage('Right', uuidOf(6))),
    ]);
    expect([x.statusCode, y.statusCode], x.body + y.body).toEqual([201, 201]);
    const doc = await a.registry.db
      .selectFrom('index_docs')
      .select('body')
      .where('path', '=', `registry/${REG}/Registry.toml`)
      .executeTakeFirstOrThrow();
    const packages = (parseToml(Buffer.from(doc.body).toString()) as { packages: Record<string, { name: string }> }).packages;
    expect(Object.values(packages).map((p) => p.name)).toEqual(expect.arrayContaining(['Left', 'Right']));
  });
});

describe('MoonBit publishes on two nodes', () => {
  const publish = async (node: TestApp, zip: Buffer) => node.app.inject(await publishRequest('moon', alice, zip));

  it('the same zip on both at once: both 200, one version; different zips: one 200, one 409', async () => {
    let before = await snapshot();
    expect((await publish(a, moduleZip({ name: 'alice/solo', version: '1.0.0' }))).statusCode).toBe(200);
    const one = grown(before, await snapshot());

    const zip = moduleZip({ name: 'alice/both', version: '1.0.0' });
    before = await snapshot();
    const same = await Promise.all([publish(a, zip), publish(b, zip)]);
    expect(same.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(grown(before, await snapshot())).toEqual(one);

    before = await snapshot();
    const rival = await Promise.all([
      publish(a, moduleZip({ name: 'alice/rival', version: '1.0.0', description: 'a' })),
      publish(b, moduleZip({ name: 'alice/rival', version: '1.0.0', description: 'b' })),
    ]);
    expect(rival.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect(grown(before, await snapshot())).toEqual(one);
  });
});

describe('Brioche cache writes on two nodes', () => {
  it('one key written on both at once, in two valid encodings: one 201, one 412, one object and one blob', async () => {
    const words = Array.from({ length: 4000 }, (_, i) => `word${(i * 7919) % 613}`);
    const data = Buffer.from(words.join(' '));
    const url = `/bri/cache/chunks/${await blake3(data)}.zst`;
    const put = (node: TestApp, body: Buffer) =>
      node.app.inject({
        method: 'PUT',
        url,
        payload: body,
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' },
      });
    const before = await snapshot();
    const both = await Promise.all([put(a, await zstd(data, 1)), put(b, await zstd(data, 19))]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([201, 412]);
    expect(grown(before, await snapshot())).toMatchObject({ brioche_objects: 1, blobs: 1, objects: 1 });
  });
});
