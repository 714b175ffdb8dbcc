import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simplePublishBody, tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { startS3, type TestS3 } from '../../../test/support/s3.js';
import { tempDir } from '../../../test/support/tmp.js';
import { indexPath } from '../../formats/cargo/names.js';
import { inTransaction } from '../tx.js';
import { syncStaticOrigin } from './sync.js';

let t: TestApp;
let www: { path: string; remove(): void };
let token: string;

/** Cargo, Bazel and Julia hosted repos, each with its own tree under `www`, and a private repo without one. */
async function open(opts: { crates?: string } = {}): Promise<void> {
  t = await openTestApp({
    repos: [
      { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public', staticOrigin: opts.crates ?? path.join(www.path, 'crates') },
      { name: 'bcr', format: 'bazel', kind: 'hosted', visibility: 'public', staticOrigin: path.join(www.path, 'bcr') },
      { name: 'jl', format: 'julia', kind: 'hosted', visibility: 'public', staticOrigin: path.join(www.path, 'jl') },
      { name: 'inner', format: 'cargo', kind: 'hosted', visibility: 'private' },
    ],
  });
  token = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
}

async function publish(name: string, vers: string): Promise<void> {
  const { body } = await simplePublishBody(name, vers);
  const res = await t.app.inject({ method: 'PUT', url: '/crates/api/v1/crates/new', headers: { authorization: token }, payload: body });
  expect(res.statusCode, res.body).toBe(200);
}

async function served(url: string): Promise<Buffer> {
  const res = await t.app.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  return res.rawPayload;
}

const file = (...parts: string[]) => fs.readFileSync(path.join(www.path, ...parts));
const origin = (repo: string) => t.registry.staticOrigins!.of(t.registry.repos.get(repo)!.id)!;
const metric = async (name: string) => {
  const text = (await t.app.inject({ method: 'GET', url: '/-/metrics' })).body;
  return Number(new RegExp(`^${name}\\{repo="crates"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
};

beforeEach(() => {
  www = tempDir('larder-www-');
});
afterEach(async () => {
  await t.stop();
  www.remove();
});

describe('static origin (directory)', () => {
  it('holds each published index file with the bytes Larder serves, rewritten by a yank, once the publish is answered', async () => {
    await open();
    await publish('serde', '1.0.0');
    await publish('serde', '1.1.0');
    const url = `/crates/index/${indexPath('serde')}`;
    expect(file('crates', 'index', indexPath('serde'))).toEqual(await served(url));
    const yank = await t.app.inject({ method: 'DELETE', url: '/crates/api/v1/crates/serde/1.1.0/yank', headers: { authorization: token } });
    expect(yank.statusCode).toBe(200);
    const afterYank = await served(url);
    expect(afterYank.toString()).toContain('"yanked":true');
    expect(file('crates', 'index', indexPath('serde'))).toEqual(afterYank);
    // Only documents: config.json follows the request's URLs and stays with Larder; no temporary file is left.
    expect(fs.readdirSync(path.join(www.path, 'crates'), { recursive: true }).sort()).toEqual([
      'index',
      'index/se',
      'index/se/rd',
      'index/se/rd/serde',
    ]);
  });

  it('ends with the latest bytes when publishes of one crate race', async () => {
    await open();
    const versions = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5'];
    const bodies = await Promise.all(versions.map((v) => simplePublishBody('racy', v)));
    const answers = await Promise.all(
      bodies.map(({ body }) =>
        t.app.inject({ method: 'PUT', url: '/crates/api/v1/crates/new', headers: { authorization: token }, payload: body }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(versions.map(() => 200));
    const latest = await served(`/crates/index/${indexPath('racy')}`);
    expect(latest.toString().trim().split('\n')).toHaveLength(versions.length);
    expect(file('crates', 'index', indexPath('racy'))).toEqual(latest);
  });

  it('writes each format at the paths its clients request: Bazel registry files, Julia /registries under its three names', async () => {
    await open();
    const bcr = t.registry.repos.get('bcr')!;
    const jl = t.registry.repos.get('jl')!;
    await inTransaction(t.registry, async (uow) => {
      await t.registry.docs.put(uow, bcr.id, 'modules/zlib/metadata.json', Buffer.from('{"versions":[]}\n'));
      await t.registry.docs.put(uow, jl.id, 'registries', Buffer.from('/registry/0d4f/abc\n'));
      // A registry file travels inside registry tarballs: no client requests it as a file.
      await t.registry.docs.put(uow, jl.id, 'registry/0d4f/Registry.toml', Buffer.from('name = "R"\n'));
    });
    expect(file('bcr', 'modules', 'zlib', 'metadata.json')).toEqual(await served('/bcr/modules/zlib/metadata.json'));
    expect(file('bcr', 'bazel_registry.json')).toEqual(await served('/bcr/bazel_registry.json'));
    for (const name of ['registries', 'registries.eager', 'registries.conservative']) {
      expect(file('jl', name)).toEqual(await served(`/jl/${name}`));
    }
    expect(fs.existsSync(path.join(www.path, 'jl', 'registry'))).toBe(false);
    // A removed document's files go too.
    await inTransaction(t.registry, (uow) => t.registry.docs.remove(uow, bcr.id, 'modules/zlib/metadata.json'));
    expect(fs.existsSync(path.join(www.path, 'bcr', 'modules', 'zlib', 'metadata.json'))).toBe(false);
  });

  it('answers a publish whose file cannot be written, counts the failure, and sync repairs the tree', async () => {
    await open();
    // A file where the index needs a directory: every write under index/3/ fails.
    fs.mkdirSync(path.join(www.path, 'crates', 'index'), { recursive: true });
    fs.writeFileSync(path.join(www.path, 'crates', 'index', '3'), 'in the way');
    await publish('abc', '1.0.0');
    expect((await served(`/crates/index/${indexPath('abc')}`)).toString()).toContain('"vers":"1.0.0"');
    expect(fs.statSync(path.join(www.path, 'crates', 'index', '3')).isFile()).toBe(true);
    expect(await metric('larder_static_origin_write_failures_total')).toBe(1);

    const progress: number[] = [];
    const result = await syncStaticOrigin(t.registry.db, origin('crates'), (done) => progress.push(done));
    expect(result).toEqual({ written: 1, unchanged: 0, deleted: 1 });
    expect(progress.at(-1)).toBe(1);
    expect(file('crates', 'index', indexPath('abc'))).toEqual(await served(`/crates/index/${indexPath('abc')}`));
  });

  it('sync deletes strays, rewrites what differs, writes what is missing, and then finds nothing to do', async () => {
    await open();
    await publish('alpha', '1.0.0');
    await publish('beta', '1.0.0');
    await publish('gamma', '1.0.0');
    const dir = path.join(www.path, 'crates', 'index');
    fs.writeFileSync(path.join(dir, indexPath('alpha')), 'edited by hand\n');
    fs.rmSync(path.join(dir, indexPath('beta')));
    fs.mkdirSync(path.join(dir, 'ol/dc'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'ol/dc/oldcrate'), 'a crate this repo never had\n');
    fs.writeFileSync(path.join(dir, 'ga/mm/.larder-tmp-1-00-gamma'), 'left by a killed write');

    expect(await syncStaticOrigin(t.registry.db, origin('crates'))).toEqual({ written: 2, unchanged: 1, deleted: 2 });
    for (const name of ['alpha', 'beta', 'gamma']) {
      expect(fs.readFileSync(path.join(dir, indexPath(name)))).toEqual(await served(`/crates/index/${indexPath(name)}`));
    }
    expect(fs.existsSync(path.join(dir, 'ol/dc/oldcrate'))).toBe(false);
    expect(await syncStaticOrigin(t.registry.db, origin('crates'))).toEqual({ written: 0, unchanged: 3, deleted: 0 });
  });
});

describe('static origin (S3)', () => {
  let s3: TestS3;
  beforeEach(async () => {
    s3 = await startS3();
  });
  afterEach(async () => {
    // The app is stopped by the outer afterEach, which runs after this one.
    await s3.stop();
  });

  it('puts each document as an object under the prefix, and sync deletes strays there', async () => {
    const bucketUrl = await s3.newBucketUrl();
    const bucket = new URL(bucketUrl).hostname;
    await open({ crates: bucketUrl.replace('/blobs?', '/site/crates?') });
    await publish('serde', '1.0.0');
    expect(await s3.keys(bucket)).toEqual([`site/crates/index/${indexPath('serde')}`]);
    const res = await fetch(`${s3.endpoint}/${bucket}/site/crates/index/${indexPath('serde')}`);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(await served(`/crates/index/${indexPath('serde')}`));

    await origin('crates').target.put('index/ol/dc/oldcrate', Buffer.from('stray'), 'text/plain');
    expect(await syncStaticOrigin(t.registry.db, origin('crates'))).toEqual({ written: 0, unchanged: 1, deleted: 1 });
    expect(await s3.keys(bucket)).toEqual([`site/crates/index/${indexPath('serde')}`]);
  });
});
