/**
 * Cargo's git index over `app.inject`: what the git route answers (advertisement, pushes, private repos, paths git
 * never asks for) and what the view holds after each write, batch, squash, for hosted, proxy and group repos alike.
 * Real cargo and git run in test/cargo-git-index.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RepoConfig } from '../../core/config.js';
import { openTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../../../test/support/larder.js';
import { simplePublishBody } from '../../../test/support/cargo.js';
import { fakeCratesIo, sparsePath } from '../../../test/support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { historyTip } from '../../registry/git-history/state.js';
import { currentGeneration } from '../../registry/git-history/view.js';

const hosted = (name: string, extra: Partial<RepoConfig> = {}): RepoConfig => ({
  name,
  format: 'cargo',
  kind: 'hosted',
  visibility: 'public',
  gitBatch: 0,
  ...extra,
});
const OUTBOUND = {
  retries: 0,
  timeoutMs: 1500,
  headersTimeoutMs: 800,
  bodyTimeoutMs: 800,
  connectTimeoutMs: 1000,
  allowPrivate: ['127.0.0.1'],
};

let t: TestApp | undefined;
let up: FakeUpstream | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await t?.stop();
  await up?.close();
  t = up = undefined;
});

async function publish(app: TestApp, repo: string, name: string, vers: string): Promise<void> {
  const res = await app.app.inject({
    method: 'PUT',
    url: `/${repo}/api/v1/crates/new`,
    headers: { authorization: TEST_ADMIN_TOKEN },
    payload: (await simplePublishBody(name, vers)).body,
  });
  expect(res.statusCode, res.body).toBe(200);
}

/** What a git client's first request gets: the refs advertisement. */
const advertise = (app: TestApp, repo: string, headers: Record<string, string> = {}) =>
  app.app.inject({ method: 'GET', url: `/${repo}/git/index/info/refs?service=git-upload-pack`, headers });

/** The files the git view serves now (as a fetch would bring it up to date), as text. */
async function viewFiles(app: TestApp, repo: string): Promise<Record<string, string>> {
  expect((await advertise(app, repo)).statusCode).toBe(200);
  const r = app.registry.repos.get(repo)!;
  const gen = await currentGeneration(app.registry.db, { repoId: r.id, history: 'index' });
  const tip = await historyTip(app.registry.db, gen.ref);
  return Object.fromEntries([...tip.files].map(([p, f]) => [p, Buffer.from(f.data).toString('utf8')]));
}

async function commitCount(app: TestApp, repo: string): Promise<number> {
  const r = app.registry.repos.get(repo)!;
  const rows = await app.registry.db.selectFrom('git_history').select('id').where('repo_id', '=', r.id).execute();
  return rows.length;
}

async function sparse(app: TestApp, repo: string, path: string): Promise<string> {
  const res = await app.app.inject({ method: 'GET', url: `/${repo}/index/${path}` });
  expect(res.statusCode).toBe(200);
  return res.body;
}

describe('the git index route', () => {
  it('advertises main as HEAD, with config.json naming the repo at the public URL', async () => {
    t = await openTestApp({ repos: [hosted('cargo')] });
    const res = await advertise(t, 'cargo');
    expect(res.headers['content-type']).toBe('application/x-git-upload-pack-advertisement');
    expect(res.body).toMatch(/symref=HEAD:refs\/heads\/main/);
    const files = await viewFiles(t, 'cargo');
    expect(files).toEqual({ 'config.json': await sparse(t, 'cargo', 'config.json') });
    expect(JSON.parse(files['config.json']!)).toEqual({ dl: 'https://larder.test/cargo/api/v1/crates', api: 'https://larder.test/cargo' });
  });

  it('config.json follows public_url; without one, the first client host is kept, not each request host', async () => {
    t = await openTestApp({ repos: [hosted('cargo')] });
    const config = async () => JSON.parse((await viewFiles(t!, 'cargo'))['config.json']!) as { api: string };
    const hostConfig = async (host: string) => {
      expect((await advertise(t!, 'cargo', { host })).statusCode).toBe(200);
      return config();
    };
    t.registry.config.publicUrl = null;
    expect((await hostConfig('a.example')).api).toBe('http://a.example/cargo');
    const commits = await commitCount(t, 'cargo');
    expect((await hostConfig('b.example')).api).toBe('http://a.example/cargo');
    expect(await commitCount(t, 'cargo')).toBe(commits);
    t.registry.config.publicUrl = 'https://registry.example';
    expect((await config()).api).toBe('https://registry.example/cargo');
    expect(await sparse(t, 'cargo', 'config.json')).toBe((await viewFiles(t, 'cargo'))['config.json']);
  });

  it('refuses pushes with GIT_PUSH_REFUSED before reading a body, and paths git never asks for', async () => {
    t = await openTestApp({ repos: [hosted('cargo')] });
    const before = await commitCount(t, 'cargo');
    for (const req of [
      { method: 'GET' as const, url: '/cargo/git/index/info/refs?service=git-receive-pack' },
      {
        method: 'POST' as const,
        url: '/cargo/git/index/git-receive-pack',
        headers: { 'content-type': 'application/x-git-receive-pack-request' },
        payload: 'x',
      },
    ]) {
      const res = await t.app.inject(req);
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toContain('cannot be pushed to: publish crates with `cargo publish --registry <name>`');
    }
    const odd = await t.app.inject({ method: 'GET', url: '/cargo/git/index/objects/../../config' });
    expect(odd.statusCode).toBe(404);
    expect(await commitCount(t, 'cargo')).toBe(before);
  });

  it('private: a 401 with a Basic challenge and nothing recorded; the token as a Basic password is let in', async () => {
    t = await openTestApp({ repos: [hosted('secret', { visibility: 'private' })] });
    const refused = await advertise(t, 'secret');
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Basic realm="Larder secret", charset="UTF-8"');
    expect(refused.body).toContain('secret is private: give git a Larder token as the password');
    expect(await commitCount(t, 'secret')).toBe(0);
    const wrong = await advertise(t, 'secret', { authorization: `Basic ${Buffer.from('git:nope').toString('base64')}` });
    expect(wrong.statusCode).toBe(401);
    const ok = await advertise(t, 'secret', { authorization: `Basic ${Buffer.from(`git:${TEST_ADMIN_TOKEN}`).toString('base64')}` });
    expect(ok.statusCode).toBe(200);
    const repo = t.registry.repos.get('secret')!;
    const tip = await historyTip(t.registry.db, (await currentGeneration(t.registry.db, { repoId: repo.id, history: 'index' })).ref);
    expect(JSON.parse(Buffer.from(tip.files.get('config.json')!.data).toString())).toMatchObject({ 'auth-required': true });
  });

  it('reports the clone size on /-/metrics', async () => {
    t = await openTestApp({ repos: [hosted('cargo')] });
    await publish(t, 'cargo', 'metered', '1.0.0');
    await advertise(t, 'cargo');
    const metrics = await t.app.inject({ method: 'GET', url: '/-/metrics' });
    const size = /^larder_git_index_clone_bytes\{repo="cargo"\} (\d+)$/m.exec(metrics.body);
    expect(Number(size?.[1])).toBeGreaterThan(100);
  });
});

describe('the git view of a hosted repo', () => {
  it('holds the sparse index files byte for byte after publish, yank and unyank', async () => {
    t = await openTestApp({ repos: [hosted('cargo')] });
    await publish(t, 'cargo', 'alpha', '1.0.0');
    await publish(t, 'cargo', 'Beta_Two', '0.1.0');
    const path = sparsePath('beta_two');
    expect(await viewFiles(t, 'cargo')).toEqual({
      'config.json': await sparse(t, 'cargo', 'config.json'),
      [sparsePath('alpha')]: await sparse(t, 'cargo', sparsePath('alpha')),
      [path]: await sparse(t, 'cargo', path),
    });
    for (const [method, action] of [
      ['DELETE', 'yank'],
      ['PUT', 'unyank'],
    ] as const) {
      const res = await t.app.inject({
        method,
        url: `/cargo/api/v1/crates/Beta_Two/0.1.0/${action}`,
        headers: { authorization: TEST_ADMIN_TOKEN },
      });
      expect(res.statusCode).toBe(200);
      const files = await viewFiles(t, 'cargo');
      expect(files[path]).toBe(await sparse(t, 'cargo', path));
      expect(files[path]).toContain(`"yanked":${action === 'yank'}`);
    }
  });

  it('batches a burst of writes into one commit per window, sealed by the first read after it', async () => {
    t = await openTestApp({ repos: [hosted('cargo', { gitBatch: 60_000 })] });
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-02T10:00:00Z') });
    await publish(t, 'cargo', 'first', '1.0.0');
    expect(Object.keys(await viewFiles(t, 'cargo'))).toContain(sparsePath('first'));
    expect(await commitCount(t, 'cargo')).toBe(1);
    for (const name of ['burst-a', 'burst-b', 'burst-c']) await publish(t, 'cargo', name, '1.0.0');
    // Within the window: the view stays where it was, and no commit is made.
    expect(Object.keys(await viewFiles(t, 'cargo'))).not.toContain(sparsePath('burst-a'));
    expect(await commitCount(t, 'cargo')).toBe(1);
    vi.setSystemTime(new Date('2026-12-02T10:01:00Z'));
    const files = await viewFiles(t, 'cargo');
    for (const name of ['burst-a', 'burst-b', 'burst-c']) expect(files[sparsePath(name)]).toBe(await sparse(t, 'cargo', sparsePath(name)));
    expect(await commitCount(t, 'cargo')).toBe(2);
    const repo = t.registry.repos.get('cargo')!;
    const gen = await currentGeneration(t.registry.db, { repoId: repo.id, history: 'index' });
    expect(gen.head?.message).toBe('Update burst-a, burst-b, burst-c');
    // Reads with nothing new record nothing.
    await viewFiles(t, 'cargo');
    expect(await commitCount(t, 'cargo')).toBe(2);
  });

  it('squashes past git_squash_after into one root commit of the same files, and drops the old rows', async () => {
    t = await openTestApp({ repos: [hosted('cargo', { gitSquashAfter: 3 })] });
    const repo = t.registry.repos.get('cargo')!;
    await viewFiles(t, 'cargo');
    for (const v of ['1.0.0', '1.0.1']) {
      await publish(t, 'cargo', 'squashed', v);
      await viewFiles(t, 'cargo');
    }
    expect((await currentGeneration(t.registry.db, { repoId: repo.id, history: 'index' })).n).toBe(0);
    expect(await commitCount(t, 'cargo')).toBe(3);
    await publish(t, 'cargo', 'squashed', '1.0.2');
    const files = await viewFiles(t, 'cargo');
    const gen = await currentGeneration(t.registry.db, { repoId: repo.id, history: 'index' });
    expect(gen.n).toBe(1);
    expect(gen.head?.message).toMatch(/^Squash 4 commits into one\n\nUpdate squashed$/);
    expect(await commitCount(t, 'cargo')).toBe(1);
    expect(files[sparsePath('squashed')]).toBe(await sparse(t, 'cargo', sparsePath('squashed')));
    expect(files[sparsePath('squashed')]!.split('\n')).toHaveLength(4);
    // The history goes on in the new generation.
    await publish(t, 'cargo', 'squashed', '1.0.3');
    expect((await viewFiles(t, 'cargo'))[sparsePath('squashed')]).toContain('"vers":"1.0.3"');
    expect(await commitCount(t, 'cargo')).toBe(2);
  });

  it('begins with every document a repo already held before anyone read its git index', async () => {
    t = await openTestApp({ repos: [hosted('cargo')] });
    await publish(t, 'cargo', 'older', '1.0.0');
    await t.registry.db.deleteFrom('git_view_pending').execute();
    const files = await viewFiles(t, 'cargo');
    expect(files[sparsePath('older')]).toBe(await sparse(t, 'cargo', sparsePath('older')));
  });
});

describe('the git view of proxies and groups', () => {
  it('a proxy commits the index files it holds, and drops one the upstream lost', async () => {
    up = await startFakeUpstream();
    const io = fakeCratesIo(up);
    await io.add({ name: 'serde', vers: '1.0.0' });
    t = await openTestApp({
      repos: [{ name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/`, ttl: 0, gitBatch: 0 }],
      outbound: OUTBOUND,
    });
    expect(Object.keys(await viewFiles(t, 'crates'))).toEqual(['config.json']);
    const held = await sparse(t, 'crates', sparsePath('serde'));
    expect((await viewFiles(t, 'crates'))[sparsePath('serde')]).toBe(held);
    await io.add({ name: 'serde', vers: '1.0.1' });
    const newer = await sparse(t, 'crates', sparsePath('serde'));
    expect(newer).toContain('1.0.1');
    expect((await viewFiles(t, 'crates'))[sparsePath('serde')]).toBe(newer);
    up.set(`/${sparsePath('serde')}`, { status: 404, body: 'gone' });
    expect((await t.app.inject({ method: 'GET', url: `/crates/index/${sparsePath('serde')}` })).statusCode).toBe(404);
    expect(Object.keys(await viewFiles(t, 'crates'))).toEqual(['config.json']);
  });

  it('a proxy with cooldown serves no git index (it could not hide young versions)', async () => {
    up = await startFakeUpstream();
    t = await openTestApp({
      repos: [{ name: 'crates', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/`, cooldown: 3_600_000 }],
      outbound: OUTBOUND,
    });
    const res = await advertise(t, 'crates');
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('use its sparse index');
  });

  it("a group serves the union of its members' files with its own config.json, and squashes too", async () => {
    t = await openTestApp({
      repos: [
        hosted('one'),
        hosted('two'),
        { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['one', 'two'], gitSquashAfter: 2 },
      ],
    });
    await publish(t, 'one', 'shared', '1.0.0');
    await publish(t, 'two', 'shared', '2.0.0');
    await publish(t, 'two', 'only-two', '1.0.0');
    const files = await viewFiles(t, 'all');
    expect(files).toEqual({
      'config.json': await sparse(t, 'all', 'config.json'),
      // Every file of a crate from the first member that has it: the hosted `one`.
      [sparsePath('shared')]: await sparse(t, 'one', sparsePath('shared')),
      [sparsePath('only-two')]: await sparse(t, 'two', sparsePath('only-two')),
    });
    expect(JSON.parse(files['config.json']!)).toMatchObject({ api: 'https://larder.test/all' });
    expect(files[sparsePath('shared')]).toBe(await sparse(t, 'all', sparsePath('shared')));
    const group = t.registry.repos.get('all')!;
    for (const v of ['1.0.1', '1.0.2']) {
      await publish(t, 'two', 'only-two', v);
      expect((await viewFiles(t, 'all'))[sparsePath('only-two')]).toContain(`"vers":"${v}"`);
    }
    const gen = await currentGeneration(t.registry.db, { repoId: group.id, history: 'index' });
    expect(gen.n).toBe(1);
    // The squash keeps the members' marker: reading again records nothing.
    const rows = await commitCount(t, 'all');
    await viewFiles(t, 'all');
    expect(await commitCount(t, 'all')).toBe(rows);
  });
});
