/**
 * The shared git history served over smart HTTP, with a made-up history of two formats' layouts
 * (hashed crate-style paths; MoonBit-style `user/<name>/<module>.index` with non-ASCII names). The
 * real `git` client is the oracle: shallow and full clones, protocol v2, fetches after appends.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toLarderError } from '../core/errors.js';
import { gitHistoryDir, syncGitHistory } from '../registry/git-history/build.js';
import { recordGitCommit, type NewGitCommit } from '../registry/git-history/record.js';
import { openDatabase, type DatabaseHandle } from '../storage/db.js';
import { tempDir } from '../../test/support/tmp.js';
import { packCache } from '../registry/git-history/pack-cache.js';
import { acceptGitBodies, serveUploadPack } from './git-smart.js';

const run = promisify(execFile);
const work = tempDir('larder-git-smart-');
const data = path.join(work.path, 'data');
let handle: DatabaseHandle;
let app: FastifyInstance;
let base: string;
const protocols: string[] = [];
const REPOS = { crates: 1, mooncakes: 2 };

const git = (cwd: string, ...args: string[]) =>
  run('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' } });
const text = (s: string) => Buffer.from(s, 'utf8');
const record = (repo: keyof typeof REPOS, commit: NewGitCommit) =>
  recordGitCommit(handle.db, { repoId: REPOS[repo], history: 'index' }, commit);

beforeAll(async () => {
  handle = await openDatabase({ kind: 'sqlite', path: path.join(work.path, 'larder.db') });
  for (const name of Object.keys(REPOS))
    await handle.db.insertInto('repos').values({ name, format: 'test', kind: 'hosted', visibility: 'public', created_at: 0 }).execute();
  // A crates.io-style index: one file per crate under its hashed prefix.
  await record('crates', { message: 'Add serde', at: 1_700_000_000, changes: [{ path: 'se/rd/serde', data: text('{"v":"1.0.0"}\n') }] });
  await record('crates', {
    message: 'Add a, config',
    at: 1_700_000_100,
    changes: [
      { path: '1/a', data: text('{"v":"0.1.0"}\n') },
      { path: 'config.json', data: text('{"dl":"http://x"}') },
    ],
  });
  // A MoonBit-style index: user/<name>/<module>.index, names in any script, and emoji.
  await record('mooncakes', {
    message: 'Publish 李/模块 0.1.0',
    at: 1_700_000_000,
    changes: [
      { path: 'user/李/模块.index', data: text('{"name":"李/模块","version":"0.1.0"}\n') },
      { path: 'user/🦀/crab "quoted"\\.index', data: text('{"name":"🦀/crab","version":"1.0.0"}\n') },
      { path: 'tools/run.sh', mode: '100755', data: text('#!/bin/sh\n') },
      { path: 'latest', mode: '120000', data: text('user/李/模块.index') },
    ],
  });
  await record('mooncakes', {
    message: 'Yank 🦀/crab 1.0.0 ✨',
    at: 1_700_000_050,
    changes: [{ path: 'user/🦀/crab "quoted"\\.index', data: text('{"name":"🦀/crab","version":"1.0.0","yanked":true}\n') }],
  });

  app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const e = toLarderError(err);
    return reply.code(e.status).type('text/plain').send(`${e.message}\n`);
  });
  app.addHook(
    'onRequest',
    async (req) => void protocols.push(`${req.method} ${req.url.split('?')[0]} ${req.headers['git-protocol'] ?? ''}`),
  );
  acceptGitBodies(app);
  const handler = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
    const { repo, '*': rest } = req.params as { repo: keyof typeof REPOS; '*': string };
    const ref = { repoId: REPOS[repo], history: 'index' };
    await serveUploadPack(req, reply, {
      name: 'index',
      rest,
      refusal: 'the index changes through publishing',
      repository: () => syncGitHistory(handle.db, { ...ref, dir: gitHistoryDir(data, ref) }),
    });
  };
  app.get('/:repo/index.git/*', handler);
  app.post('/:repo/index.git/*', handler);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await handle?.close();
  work.remove();
});

async function clone(repo: string, dest: string, ...opts: string[]): Promise<string> {
  const dir = path.join(work.path, dest);
  await git(work.path, ...opts, 'clone', '--quiet', `${base}/${repo}/index.git`, dir);
  return dir;
}
const ids = async (dir: string) => (await git(dir, 'log', '--format=%H %s')).stdout.trim().split('\n');

it('clones full and shallow over protocol v2 with HEAD on main, non-ASCII paths and modes intact', async () => {
  protocols.length = 0;
  const full = await clone('mooncakes', 'full', '-c', 'protocol.version=2');
  expect(protocols).toContain('GET /mooncakes/index.git/info/refs version=2');
  expect((await git(full, 'rev-parse', '--abbrev-ref', 'HEAD')).stdout.trim()).toBe('main');
  expect(fs.readFileSync(path.join(full, 'user/李/模块.index'), 'utf8')).toBe('{"name":"李/模块","version":"0.1.0"}\n');
  expect(fs.readFileSync(path.join(full, 'user/🦀/crab "quoted"\\.index'), 'utf8')).toContain('"yanked":true');
  expect(fs.statSync(path.join(full, 'tools/run.sh')).mode & 0o100).toBe(0o100);
  expect(fs.readlinkSync(path.join(full, 'latest'))).toBe('user/李/模块.index');
  const log = await ids(full);
  expect(log.map((l) => l.slice(41))).toEqual(['Yank 🦀/crab 1.0.0 ✨', 'Publish 李/模块 0.1.0']);
  expect((await git(full, 'log', '-1', '--format=%an <%ae> %at %cn <%ce> %ct')).stdout.trim()).toBe(
    'Larder <larder@localhost> 1700000050 Larder <larder@localhost> 1700000050',
  );

  protocols.length = 0;
  const shallow = path.join(work.path, 'shallow');
  await git(work.path, '-c', 'protocol.version=2', 'clone', '--quiet', '--depth', '1', `${base}/mooncakes/index.git`, shallow);
  expect(protocols).toContain('POST /mooncakes/index.git/git-upload-pack version=2');
  expect((await git(shallow, 'rev-list', '--count', 'HEAD')).stdout.trim()).toBe('1');
  expect((await git(shallow, 'rev-parse', 'HEAD')).stdout.trim()).toBe(log[0].slice(0, 40));
  expect(fs.readFileSync(path.join(shallow, 'user/李/模块.index'), 'utf8')).toBe('{"name":"李/模块","version":"0.1.0"}\n');
  // Protocol v0 sees the same commits.
  const v0 = await clone('mooncakes', 'v0', '-c', 'protocol.version=0');
  expect(await ids(v0)).toEqual(log);
});

it('rebuilds a deleted cache with identical commit ids, for both layouts', async () => {
  const before = { crates: await ids(await clone('crates', 'c1')), mooncakes: await ids(await clone('mooncakes', 'm1')) };
  expect(before.crates).toHaveLength(2);
  fs.rmSync(path.join(data, 'git-history'), { recursive: true, force: true });
  expect(await ids(await clone('crates', 'c2'))).toEqual(before.crates);
  expect(await ids(await clone('mooncakes', 'm2'))).toEqual(before.mooncakes);
});

it('only fast-forwards when commits are appended, removals included', async () => {
  const dir = await clone('mooncakes', 'ff', '-c', 'protocol.version=2');
  const old = (await git(dir, 'rev-parse', 'HEAD')).stdout.trim();
  await record('mooncakes', {
    message: 'Remove 🦀/crab\0',
    at: 1_700_000_200,
    changes: [
      { path: 'user/🦀/crab "quoted"\\.index', data: null },
      { path: 'user/Ünïcödé/ß.index', data: text('{}\n') },
    ],
  });
  const fetched = await git(dir, '-c', 'protocol.version=2', 'fetch', 'origin');
  expect(fetched.stderr).not.toContain('forced update');
  const now = (await git(dir, 'rev-parse', 'origin/main')).stdout.trim();
  expect(now).not.toBe(old);
  await git(dir, 'merge-base', '--is-ancestor', old, now);
  await git(dir, 'merge', '--ff-only', '--quiet', 'origin/main');
  expect(fs.existsSync(path.join(dir, 'user/🦀/crab "quoted"\\.index'))).toBe(false);
  expect(fs.readFileSync(path.join(dir, 'user/Ünïcödé/ß.index'), 'utf8')).toBe('{}\n');
  expect((await git(dir, 'log', '-1', '--format=%s')).stdout.trim()).toBe('Remove 🦀/crab\uFFFD');
  // Rebuilt after the append, the cache serves the same tip.
  fs.rmSync(path.join(data, 'git-history'), { recursive: true, force: true });
  expect((await git(dir, 'ls-remote', 'origin', 'HEAD')).stdout.split('\t')[0]).toBe(now);
});

it('answers a repeated clone with the pack made for the first, and never a fetch that negotiates', async () => {
  for (const version of ['2', '0']) {
    const first = await clone('crates', `pc-a-${version}`, '-c', `protocol.version=${version}`);
    const hits = packCache.hits;
    const again = await clone('crates', `pc-b-${version}`, '-c', `protocol.version=${version}`);
    expect(packCache.hits, `protocol v${version}`).toBe(hits + 1);
    expect(await ids(again)).toEqual(await ids(first));
    expect((await git(again, 'fsck', '--strict')).stderr).not.toMatch(/error|missing/);
  }
  // A new commit: a fresh clone sees it (refs are never cached), then a fetch with `have` lines goes to git.
  const before = await clone('crates', 'pc-old', '-c', 'protocol.version=2');
  await record('crates', { message: 'Add b', at: 1_700_000_300, changes: [{ path: '1/b', data: text('{"v":"0.2.0"}\n') }] });
  const fresh = await clone('crates', 'pc-new', '-c', 'protocol.version=2');
  expect((await ids(fresh))[0]).toMatch(/ Add b$/);
  const { hits, misses } = packCache;
  await git(before, '-c', 'protocol.version=2', 'fetch', '--quiet', 'origin');
  expect((await git(before, 'log', '-1', '--format=%s', 'origin/main')).stdout.trim()).toBe('Add b');
  expect([packCache.hits, packCache.misses]).toEqual([hits, misses]);
});

it('refuses pushes with the reason, and serves nothing but clone and fetch', async () => {
  const dir = await clone('crates', 'push');
  fs.writeFileSync(path.join(dir, 'x'), 'x');
  await git(dir, 'add', 'x');
  await git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'x');
  const pushed = await git(dir, 'push', 'origin', 'HEAD:main').then(
    () => 'pushed',
    (err: { stderr: string }) => err.stderr,
  );
  expect(pushed).toMatch(/405|not allowed/i);
  const res = await fetch(`${base}/crates/index.git/info/refs?service=git-receive-pack`);
  expect(res.status).toBe(405);
  expect(await res.text()).toContain('the index changes through publishing');
  expect((await fetch(`${base}/crates/index.git/git-receive-pack`, { method: 'POST' })).status).toBe(405);
  for (const p of ['HEAD', 'info/refs', 'config', 'objects/info/packs'])
    expect((await fetch(`${base}/crates/index.git/${p}`)).status, p).toBe(404);
});
