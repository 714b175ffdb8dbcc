/**
 * Brioche's registry (protocols/brioche.md §2, §5, §6, §7.1–7.3) over app.inject: tag lookups,
 * bulk tag updates with history as `brioche publish` sends them, the repo password and Larder
 * tokens, what a refusal leaves (nothing), proxy tags from a fake upstream registry (TTL,
 * stale-if-error, upstream 404) and a group (hosted first), and the registry URL as brioche joins it.
 */
import { spawn } from 'node:child_process';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RepoConfig } from '../src/core/config.js';
import { briocheFormat } from '../src/formats/brioche/index.js';
import { mirrorProject } from '../src/formats/brioche/mirror.js';
import { hashPassword, setRepoPassword } from '../src/formats/brioche/password.js';
import type { ProxySource } from '../src/upstream/proxy-source.js';
import { basic, clientTagUrl, hashOf, postTags, putProject, sourceJson, type TagInput } from './support/brioche-registry.js';
import { tokenFor } from './support/cargo.js';
import { BIN } from './support/cli.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { registryState } from './support/state.js';

const PASSWORD = 'correct horse battery staple';
const H1 = hashOf('project one');
const H2 = hashOf('project two');
const MISSING = hashOf('never uploaded');
const MINUTE = 60_000;
const OUTBOUND = { retries: 0, timeoutMs: 1500, headersTimeoutMs: 800, bodyTimeoutMs: 800, connectTimeoutMs: 1000 };

const get = (t: TestApp, url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  t.app.inject({ method: 'GET', url, headers });
const tagUrl = (repo: string, project: string, tag: string) => `/${repo}/registry/v0/project-tags/${project}/${tag}?brioche=0.1.7`;
const latest = (projectName: string, projectHash: string, tag = 'latest'): TagInput => ({ projectName, tag, projectHash });

/** Sends `send` and asserts a refusal with brioche's `{"error": …}` shape and an unchanged registry. */
async function refused(t: TestApp, send: () => Promise<LightMyRequestResponse>, status: number, error: string | RegExp): Promise<void> {
  const before = await registryState(t.registry, t.data);
  const res = await send();
  expect({ status: res.statusCode, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: string };
  if (typeof error === 'string') expect(body.error).toBe(error);
  else expect(body.error).toMatch(error);
  expect(await registryState(t.registry, t.data)).toEqual(before);
}

describe('Brioche registry, hosted', () => {
  let t: TestApp;
  let alice: string;
  let mallory: string;
  let onlyZ: string;
  let reader: string;

  beforeAll(async () => {
    t = await openTestApp({
      repos: [
        { name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public' },
        { name: 'secret', format: 'brioche', kind: 'hosted', visibility: 'private' },
      ],
    });
    await setRepoPassword(t.registry, t.registry.repos.get('brioche')!, PASSWORD);
    await setRepoPassword(t.registry, t.registry.repos.get('secret')!, PASSWORD);
    for (const h of [H1, H2]) {
      await putProject(t.registry, 'brioche', h);
      await putProject(t.registry, 'secret', h);
    }
    alice = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
    mallory = await tokenFor(t.registry, 'mallory', { scopes: ['publish'] });
    onlyZ = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'z*' });
    reader = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers the health check and 404 {"error":"not found"} for a tag nobody set', async () => {
    const health = await get(t, '/brioche/registry/v0/healthcheck?brioche=0.1.7');
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const missing = await get(t, tagUrl('brioche', 'nothing', 'latest'));
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toBe('{"error":"not found"}');
    expect(missing.headers['content-type']).toMatch(/^application\/json/);
    // A name Larder could never store is as absent as one nobody set.
    expect((await get(t, tagUrl('brioche', '-bad', 'latest'))).body).toBe('{"error":"not found"}');
  });

  it('refuses a tag update without credentials (403), with a wrong password or user (401), or a malformed header (400), changing nothing', async () => {
    const body = [latest('jq', H1)];
    await refused(t, () => postTags(t.app, 'brioche', body), 403, 'credentials required');
    await refused(t, () => postTags(t.app, 'brioche', body, basic('wrong password')), 401, 'username or password did not match');
    // brioche always sends the user `admin` (trap 11): the right password under another name is not the repo password.
    await refused(t, () => postTags(t.app, 'brioche', body, basic(PASSWORD, 'bob')), 401, 'username or password did not match');
    await refused(t, () => postTags(t.app, 'brioche', body, 'Basic !!!not base64'), 400, /malformed Authorization header/);
    await refused(t, () => postTags(t.app, 'brioche', body, `Basic ${Buffer.from('no colon').toString('base64')}`), 400, /malformed/);
    await refused(t, () => postTags(t.app, 'brioche', body, 'Digest abc'), 400, /malformed/);
  });

  it('sets tags with the repo password: lists the new ones with previousHash null, serves the exact bytes, ignores ?brioche=', async () => {
    const res = await postTags(t.app, 'brioche', [latest('jq', H1), latest('jq', H1, '1.7.1')], basic(PASSWORD));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      tags: [
        { name: 'jq', tag: 'latest', previousHash: null },
        { name: 'jq', tag: '1.7.1', previousHash: null },
      ],
    });
    for (const url of [
      tagUrl('brioche', 'jq', 'latest'),
      '/brioche/registry/v0/project-tags/jq/latest',
      tagUrl('brioche', 'jq', '1.7.1'),
    ]) {
      const tag = await get(t, url);
      expect(tag.statusCode).toBe(200);
      expect(tag.body).toBe(`{"projectHash":"${H1}"}`);
      expect(tag.headers['content-type']).toMatch(/^application\/json/);
      expect(tag.headers['cache-control']).toBe('no-cache');
      expect(tag.headers.etag).toBeDefined();
      const again = await get(t, url, { 'if-none-match': String(tag.headers.etag) });
      expect(again.statusCode).toBe(304);
    }
  });

  it('re-posting the same tags changes nothing and answers {"tags":[]}', async () => {
    const before = await registryState(t.registry, t.data);
    const res = await postTags(t.app, 'brioche', [latest('jq', H1), latest('jq', H1, '1.7.1')], basic(PASSWORD));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ tags: [] });
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });

  it('moves a tag: previousHash is the old hash, the history keeps both values (newest first), only the moved tag is listed', async () => {
    const res = await postTags(t.app, 'brioche', [latest('jq', H2), latest('jq', H1, '1.7.1')], basic(PASSWORD));
    expect(res.json()).toEqual({ tags: [{ name: 'jq', tag: 'latest', previousHash: H1 }] });
    expect((await get(t, tagUrl('brioche', 'jq', 'latest'))).body).toBe(`{"projectHash":"${H2}"}`);
    const history = await get(t, '/brioche/registry/v0/project-tags/jq/latest/history');
    expect(history.statusCode).toBe(200);
    const h = history.json() as { project: string; tag: string; history: Array<Record<string, unknown>> };
    expect(h.project).toBe('jq');
    expect(h.history.map(({ setAt, ...e }) => (expect(Date.parse(String(setAt))).not.toBeNaN(), e))).toEqual([
      { projectHash: H2, previousHash: H1, current: true, setBy: null, via: 'password' },
      { projectHash: H1, previousHash: null, current: false, setBy: null, via: 'password' },
    ]);
    // Moving it back is a change too: history is never rewritten (trap 13).
    const back = await postTags(t.app, 'brioche', [latest('jq', H1)], basic(PASSWORD));
    expect(back.json()).toEqual({ tags: [{ name: 'jq', tag: 'latest', previousHash: H2 }] });
    const h3 = (await get(t, '/brioche/registry/v0/project-tags/jq/latest/history')).json() as { history: unknown[] };
    expect(h3.history).toHaveLength(3);
    expect((await get(t, '/brioche/registry/v0/project-tags/jq/nope/history')).statusCode).toBe(404);
    const audit = await t.registry.db.selectFrom('audit_log').selectAll().where('action', '=', 'brioche.tags').execute();
    expect(audit.length).toBe(3);
  });

  it('refuses a tag on a project whose source.json is not in the cache, and bad names, tags, hashes and bodies, changing nothing', async () => {
    const pw = basic(PASSWORD);
    // One transaction for the request: the good tag beside the bad one is not set either.
    await refused(
      t,
      () => postTags(t.app, 'brioche', [latest('fresh', H1), latest('fresh', MISSING, '2.0')], pw),
      400,
      new RegExp(`projects/${MISSING}/source\\.json`),
    );
    await refused(t, () => postTags(t.app, 'brioche', [latest('a/b', H1)], pw), 400, /invalid project name/);
    await refused(t, () => postTags(t.app, 'brioche', [latest('ok', H1, 'bad tag')], pw), 400, /invalid tag/);
    await refused(t, () => postTags(t.app, 'brioche', [latest('ok', H1.toUpperCase())], pw), 400, /64 lower-case hex/);
    await refused(
      t,
      () =>
        t.app.inject({
          method: 'POST',
          url: '/brioche/registry/v0/project-tags',
          headers: { 'content-type': 'application/json', authorization: pw },
          payload: '{"tags": "jq"}',
        }),
      400,
      /the body must be JSON/,
    );
    await refused(
      t,
      () =>
        t.app.inject({
          method: 'POST',
          url: '/brioche/registry/v0/project-tags',
          headers: { 'content-type': 'application/json', authorization: pw },
          payload: '{"tags": [',
        }),
      400,
      /.+/,
    );
  });

  it('takes Larder tokens as the Basic password (any user name) or Bearer, limited by scope, package pattern and ownership', async () => {
    const res = await postTags(t.app, 'brioche', [latest('ripgrep', H1)], basic(alice, 'whoever'));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ tags: [{ name: 'ripgrep', tag: 'latest', previousHash: null }] });
    // The first token to tag a project owns it; others are refused, the repo password still may.
    await refused(
      t,
      () => postTags(t.app, 'brioche', [latest('ripgrep', H2)], `Bearer ${mallory}`),
      403,
      /not an owner of project ripgrep/,
    );
    await refused(
      t,
      () => postTags(t.app, 'brioche', [latest('zlib', H1), latest('ripgrep', H2)], basic(onlyZ)),
      403,
      /packages matching "z\*"/,
    );
    await refused(t, () => postTags(t.app, 'brioche', [latest('zlib', H1)], basic(reader)), 403, /lacks the "publish" scope/);
    await refused(
      t,
      () => postTags(t.app, 'brioche', [latest('zlib', H1)], basic('larder_not-a-token')),
      401,
      'username or password did not match',
    );
    const moved = await postTags(t.app, 'brioche', [latest('ripgrep', H2)], `Bearer ${alice}`);
    expect(moved.json()).toEqual({ tags: [{ name: 'ripgrep', tag: 'latest', previousHash: H1 }] });
    const h = (await get(t, '/brioche/registry/v0/project-tags/ripgrep/latest/history')).json() as {
      history: Array<{ setBy: unknown; via: unknown }>;
    };
    expect(h.history.map((e) => [e.setBy, e.via])).toEqual([
      ['alice', 'token'],
      ['alice', 'token'],
    ]);
    const owners = await get(t, '/-/api/repos/brioche/packages/ripgrep/owners');
    expect(owners.json()).toEqual({ package: 'ripgrep', users: ['alice'] });
  });

  it('serves percent-encoded names and tags as brioche sends them', async () => {
    const res = await postTags(t.app, 'brioche', [latest('my_tool.x', H1, '1.0.0+build.1')], basic(PASSWORD));
    expect(res.statusCode, res.body).toBe(200);
    const tag = await get(t, '/brioche/registry/v0/project-tags/my%5Ftool%2Ex/1%2E0%2E0%2Bbuild%2E1?brioche=0.1.7');
    expect(tag.statusCode).toBe(200);
    expect(tag.body).toBe(`{"projectHash":"${H1}"}`);
  });

  it('a private repo needs credentials on every read (the repo password or a token with read), as BRIOCHE_REGISTRY_PASSWORD sends them', async () => {
    const set = await postTags(t.app, 'secret', [latest('jq', H1)], basic(PASSWORD));
    expect(set.statusCode, set.body).toBe(200);
    const url = tagUrl('secret', 'jq', 'latest');
    expect((await get(t, url)).statusCode).toBe(403);
    expect((await get(t, url, { authorization: basic('wrong') })).statusCode).toBe(401);
    for (const auth of [basic(PASSWORD), basic(reader), `Bearer ${reader}`]) {
      const res = await get(t, url, { authorization: auth });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).toBe(`{"projectHash":"${H1}"}`);
    }
    expect((await get(t, '/secret/registry/v0/project-tags/jq/latest/history')).statusCode).toBe(403);
    expect((await get(t, '/secret/registry/v0/project-tags/jq/latest/history', { authorization: basic(reader) })).statusCode).toBe(200);
    // A public repo ignores what a GET carries (brioche sends the header on every request).
    expect((await get(t, tagUrl('brioche', 'jq', 'latest'), { authorization: basic('wrong') })).statusCode).toBe(200);
  });

  it('brioche joins v0/… onto the printed registry URL, which ends with "/"; without it brioche asks the parent path (trap 1)', async () => {
    const { url } = briocheFormat.clientSetup(t.registry.repos.get('brioche')!, 'https://larder.test', {});
    expect(url).toBe('https://larder.test/brioche/registry/');
    const good = new URL(clientTagUrl(url, 'jq', 'latest'));
    expect(good.pathname).toBe('/brioche/registry/v0/project-tags/jq/latest');
    expect((await get(t, good.pathname + good.search)).statusCode).toBe(200);
    const bad = new URL(clientTagUrl(url.replace(/\/$/, ''), 'jq', 'latest'));
    expect(bad.pathname).toBe('/brioche/v0/project-tags/jq/latest');
    expect((await get(t, bad.pathname + bad.search)).statusCode).toBe(404);
  });
});

describe('larder brioche set-password', () => {
  /** Runs the built CLI with `input` piped to stdin. */
  function run(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LARDER_CONFIG: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  it('reads the password from a pipe, stores only its argon2id hash, never prints it; --clear removes it', async () => {
    const t = await openTestApp({ repos: [{ name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public' }] });
    const data = ['--data', t.data];
    try {
      await putProject(t.registry, 'brioche', H1);
      const pw = 'piped password 123';
      const set = await run(['brioche', 'set-password', 'brioche', ...data], `${pw}\n${pw}\n`);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toContain('set the registry password of brioche');
      expect(set.stdout + set.stderr).not.toContain(pw);
      const row = await t.registry.db
        .withTables<{ brioche_settings: { password_hash: string | null } }>()
        .selectFrom('brioche_settings')
        .select('password_hash')
        .executeTakeFirstOrThrow();
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      const ok = await postTags(t.app, 'brioche', [latest('jq', H1)], basic(pw));
      expect(ok.statusCode, ok.body).toBe(200);

      const differ = await run(['brioche', 'set-password', 'brioche', ...data], 'one password!!\nanother one!!\n');
      expect(differ.code).toBe(1);
      expect(differ.stderr).toMatch(/differ; nothing was changed/);
      const short = await run(['brioche', 'set-password', 'brioche', ...data], 'short\n');
      expect(short.stderr).toMatch(/too short/);
      const unknown = await run(['brioche', 'set-password', 'nope', ...data], `${pw}\n`);
      expect(unknown.stderr).toMatch(/no repository nope/);

      const clear = await run(['brioche', 'set-password', 'brioche', '--clear', ...data], '');
      expect(clear.code, clear.stderr).toBe(0);
      const after = await postTags(t.app, 'brioche', [latest('jq', H2)], basic(pw));
      expect(after.statusCode).toBe(401);
    } finally {
      await t.stop();
    }
  });

  it('hashes are argon2id PHC strings with a random salt', async () => {
    const [a, b] = [await hashPassword('same password'), await hashPassword('same password')];
    expect(a).not.toBe(b);
    expect(a.split('$')).toHaveLength(6);
  });
});

describe('Brioche registry, proxy and group', () => {
  let up: FakeUpstream;
  let t: TestApp;
  const proxy: RepoConfig = {
    name: 'bproxy',
    format: 'brioche',
    kind: 'proxy',
    visibility: 'public',
    upstream: '',
    ttl: 10 * MINUTE,
  };
  const upTag = (project: string, tag: string) => `/registry/v0/project-tags/${project}/${tag}`;

  beforeAll(async () => {
    up = await startFakeUpstream();
    t = await openTestApp({
      repos: [
        { name: 'mine', format: 'brioche', kind: 'hosted', visibility: 'public' },
        { ...proxy, upstream: up.url },
        { name: 'all', format: 'brioche', kind: 'group', visibility: 'public', members: ['bproxy', 'mine'] },
      ],
      outbound: { allowPrivate: ['127.0.0.1'], ...OUTBOUND },
    });
    await setRepoPassword(t.registry, t.registry.repos.get('mine')!, PASSWORD);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await t?.stop();
    await up?.close();
  });

  it('serves the upstream tag byte for byte, asks again only after the TTL, and turns the upstream 404 into 404 {"error":"not found"}', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    up.set(upTag('jq', 'latest'), [
      { body: `{"projectHash":"${H1}"}`, headers: { 'content-type': 'application/json' } },
      { body: `{"projectHash":"${H2}"}` },
    ]);
    up.set(upTag('gone', 'latest'), { status: 404, body: '{"error":"not found"}' });
    const first = await get(t, tagUrl('bproxy', 'jq', 'latest'));
    expect(first.statusCode, first.body).toBe(200);
    expect(first.body).toBe(`{"projectHash":"${H1}"}`);
    expect((await get(t, tagUrl('bproxy', 'jq', 'latest'))).body).toBe(`{"projectHash":"${H1}"}`);
    expect(up.hits(upTag('jq', 'latest'))).toBe(1);
    vi.setSystemTime(Date.now() + 11 * MINUTE);
    expect((await get(t, tagUrl('bproxy', 'jq', 'latest'))).body).toBe(`{"projectHash":"${H2}"}`);
    expect(up.hits(upTag('jq', 'latest'))).toBe(2);
    const gone = await get(t, tagUrl('bproxy', 'gone', 'latest'));
    expect(gone.statusCode).toBe(404);
    expect(gone.body).toBe('{"error":"not found"}');
  });

  it('serves the last copy, marked stale, when the upstream is down', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    up.set(upTag('fd', 'latest'), { body: `{"projectHash":"${H1}"}` });
    expect((await get(t, tagUrl('bproxy', 'fd', 'latest'))).statusCode).toBe(200);
    await up.stop();
    try {
      vi.setSystemTime(Date.now() + 11 * MINUTE);
      const stale = await get(t, tagUrl('bproxy', 'fd', 'latest'));
      expect(stale.statusCode).toBe(200);
      expect(stale.body).toBe(`{"projectHash":"${H1}"}`);
      expect(stale.headers['x-larder-stale']).toBeDefined();
      // Nothing held: an upstream failure, never a 404 (brioche would report the project as unknown).
      expect((await get(t, tagUrl('bproxy', 'never-seen', 'latest'))).statusCode).toBeGreaterThanOrEqual(502);
    } finally {
      await up.start();
    }
  });

  it('refuses tag updates on a proxy and a group (405) before looking at credentials', async () => {
    for (const repo of ['bproxy', 'all']) {
      await refused(t, () => postTags(t.app, repo, [latest('jq', H1)]), 405, /read-only/);
    }
  });

  it('a group answers tags from its hosted member first, and never takes a hosted project from the proxy', async () => {
    await putProject(t.registry, 'mine', H2);
    expect((await postTags(t.app, 'mine', [latest('tool', H2)], basic(PASSWORD))).statusCode).toBe(200);
    up.set(upTag('tool', 'latest'), { body: `{"projectHash":"${H1}"}` });
    up.set(upTag('tool', '9.9'), { body: `{"projectHash":"${H1}"}` });
    up.set(upTag('other', 'latest'), { body: `{"projectHash":"${H1}"}` });
    expect((await get(t, tagUrl('all', 'tool', 'latest'))).body).toBe(`{"projectHash":"${H2}"}`);
    // `tool` is hosted: its tags come from the hosted member only (dependency confusion).
    expect((await get(t, tagUrl('all', 'tool', '9.9'))).statusCode).toBe(404);
    expect((await get(t, tagUrl('all', 'other', 'latest'))).body).toBe(`{"projectHash":"${H1}"}`);
  });

  it('mirrorPackage walks tag latest → source.json → the artifact', async () => {
    const artifact = hashOf('artifact of mirrored');
    up.set(upTag('mirrored', 'latest'), { body: `{"projectHash":"${H1}"}` });
    up.set(`/cache/projects/${H1}/source.json`, { body: sourceJson(artifact) });
    const source = t.registry.sources.get('bproxy') as ProxySource;
    const plan = await mirrorProject(source.context, 'mirrored');
    expect(plan).toEqual({ artifacts: [`projects/${H1}/source.json`, `artifacts/${artifact}.bar.zst`], dependencies: [] });
    expect(await mirrorProject(source.context, 'unknown-project')).toBeNull();
    // The source.json is now held by the proxy.
    expect(await source.artifact(`projects/${H1}/source.json`)).not.toBeNull();
    expect(up.hits(`/cache/projects/${H1}/source.json`)).toBe(1);
  });
});
