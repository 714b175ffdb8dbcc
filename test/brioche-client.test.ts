/**
 * Brioche's own flows (protocols/brioche.md §3.4, §3.6) as a test client, over real sockets:
 * `brioche publish` (HEAD through the read layers, create-only S3 PUTs of chunks, the artifact and
 * source.json, then the tag POST with Basic admin:<token>) into a hosted repo, and `brioche build
 * <name>` (tag → source.json → artifact → chunks, every hash checked as the client checks it) from
 * that hosted repo, from a proxy of it (another Larder, as an upstream) and from a group over a
 * hosted repo and that proxy.
 */
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectSourceKey } from '../src/formats/brioche/keys.js';
import { verifyArtifactArchive } from '../src/formats/brioche/artifact-archive.js';
import { decompress } from 'fzstd';
import { createTokenWithS3Key } from '../src/registry/s3-keys.js';
import { buildArchive, type BuiltArchive } from './support/brioche-archive.js';
import { basic, hashOf } from './support/brioche-registry.js';
import { startTestLarder, type TestLarder } from './support/larder.js';

let origin: TestLarder;
let larder: TestLarder;
let s3: S3Client;
let token: string;
let built: BuiltArchive;
let chunked: BuiltArchive;

/** `registry_url` as brioche needs it (trailing slash) and the cache URL (none), of a repo. */
const registryUrl = (l: TestLarder, repo: string) => `${l.url}/${repo}/registry/`;
const cacheUrl = (l: TestLarder, repo: string) => `${l.url}/${repo}/cache`;

/** brioche's registry client: `v0/…` joined onto the base as a URL reference, `?brioche=` on every request. */
const registryGet = (base: string, name: string, tag: string) =>
  fetch(new URL(`v0/project-tags/${encodeURIComponent(name)}/${encodeURIComponent(tag)}?brioche=0.1.7`, base));

/** Whether a key exists in a read layer (HEAD; 404 means "not here"). */
async function exists(cache: string, key: string): Promise<boolean> {
  const res = await fetch(`${cache}/${key}`, { method: 'HEAD' });
  if (res.status === 404) return false;
  expect(res.status).toBe(200);
  return true;
}

/** A create-only S3 PUT as object_store sends it; "already there" (412) counts as success. */
async function putCreateOnly(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: 'main', Key: key, Body: body, IfNoneMatch: '*' }));
    return 'created';
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 412) return 'exists';
    throw err;
  }
}

/** `brioche publish` of one artifact as project `name` (§3.4). */
async function publish(name: string, archive: BuiltArchive): Promise<void> {
  // A stand-in project hash per name: the server never sees the project JSON (§4.3).
  const project = hashOf(`project ${name}`);
  const key = `artifacts/${archive.hash}.bar.zst`;
  if (!(await exists(cacheUrl(origin, 'main'), key))) {
    for (const [hash, bytes] of archive.chunks) await putCreateOnly(`chunks/${hash}.zst`, bytes);
    expect(await putCreateOnly(key, archive.zst)).toBe('created');
  }
  await putCreateOnly(projectSourceKey(project), Buffer.from(JSON.stringify({ artifactHash: archive.hash })));
  const res = await fetch(new URL('v0/project-tags?brioche=0.1.7', registryUrl(origin, 'main')), {
    method: 'POST',
    headers: { authorization: basic(token), 'content-type': 'application/json' },
    body: JSON.stringify({ tags: [{ projectName: name, tag: 'latest', projectHash: project }], includesCycles: false }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** `brioche build <name>` without a lockfile (§3.6): the artifact it would unpack, verified as the client verifies it. */
async function resolve(l: TestLarder, repo: string, name: string): Promise<{ artifactHash: string; bytes: Buffer }> {
  const tag = await registryGet(registryUrl(l, repo), name, 'latest');
  expect(tag.status, await tag.clone().text()).toBe(200);
  const { projectHash } = (await tag.json()) as { projectHash: string };
  const source = await fetch(`${cacheUrl(l, repo)}/${projectSourceKey(projectHash)}`);
  expect(source.status).toBe(200);
  const { artifactHash } = (await source.json()) as { artifactHash: string };
  const res = await fetch(`${cacheUrl(l, repo)}/artifacts/${artifactHash}.bar.zst`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-encoding')).toBeNull();
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(res.headers.get('content-length')).toBe(String(bytes.length));
  // The client re-hashes what it unpacks: chunks by their names, the rebuilt artifact by its hash.
  await verifyArtifactArchive(
    decompress(bytes),
    artifactHash,
    async (hash) => {
      const chunk = await fetch(`${cacheUrl(l, repo)}/chunks/${hash}.zst`);
      return chunk.status === 200 ? new Uint8Array(await chunk.arrayBuffer()) : null;
    },
    'the downloaded artifact',
  );
  return { artifactHash, bytes };
}

beforeAll(async () => {
  origin = await startTestLarder({ repos: [{ name: 'main', format: 'brioche', kind: 'hosted', visibility: 'public' }] });
  const created = await createTokenWithS3Key(origin.registry.auth, origin.registry.db, { login: 'admin', scopes: ['publish'] });
  token = created.token;
  s3 = new S3Client({
    endpoint: `${origin.url}/-/s3`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: created.s3.accessKeyId, secretAccessKey: created.s3.secretAccessKey },
    maxAttempts: 1,
  });
  built = await buildArchive({
    dir: { 'hello.txt': { file: Buffer.from('hello') }, bin: { dir: { run: { file: Buffer.from('#!/bin/sh\n'), executable: true } } } },
  });
  chunked = await buildArchive(
    { dir: { 'big.bin': { file: Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 9)) & 0xff)) } } },
    { chunkSize: 100_000 },
  );
  larder = await startTestLarder({
    repos: [
      { name: 'p', format: 'brioche', kind: 'proxy', visibility: 'public', upstream: `${origin.url}/main`, ttl: 100 },
      { name: 'h', format: 'brioche', kind: 'hosted', visibility: 'public' },
      { name: 'g', format: 'brioche', kind: 'group', visibility: 'public', members: ['h', 'p'] },
    ],
  });
});
afterAll(async () => {
  s3?.destroy();
  await larder?.stop();
  await origin?.stop();
});

describe('brioche publish, then brioche build', () => {
  it('publishes through S3 and the registry: every object created once, a second publish uploads nothing', async () => {
    await publish('hello', built);
    expect(await exists(cacheUrl(origin, 'main'), `artifacts/${built.hash}.bar.zst`)).toBe(true);
    // The artifact is in a read layer now: a second publish goes straight to source.json and the tag.
    await publish('hello', built);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'main', Key: `artifacts/${built.hash}.bar.zst` }));
    expect(head.ContentLength).toBe(built.zst.length);
  });

  it.each([
    ['hosted', () => origin, 'main'],
    ['proxy', () => larder, 'p'],
    ['group', () => larder, 'g'],
  ] as const)('resolves and downloads the project from the %s repo, byte for byte', async (_kind, at, repo) => {
    const got = await resolve(at(), repo, 'hello');
    expect(got.artifactHash).toBe(built.hash);
    expect(got.bytes.equals(built.zst)).toBe(true);
  });

  it('a chunked artifact resolves through the proxy with every chunk pulled through and checked', async () => {
    await publish('big', chunked);
    expect(chunked.chunks.size).toBeGreaterThan(1);
    const got = await resolve(larder, 'p', 'big');
    expect(got.artifactHash).toBe(chunked.hash);
  });

  it('an unknown project is a 404 {"error":"not found"} through every kind, so brioche says it cannot resolve it', async () => {
    for (const [l, repo] of [
      [origin, 'main'],
      [larder, 'p'],
      [larder, 'g'],
    ] as const) {
      const res = await registryGet(registryUrl(l, repo), 'nonesuch', 'latest');
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not found' });
    }
  });
});
