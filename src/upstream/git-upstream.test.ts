/**
 * A proxy's copy of an upstream git index (MoonBit's `{upstream}/git/index`), with the real git on
 * both sides: files byte-identical to the upstream's, one fast-forward commit per new upstream commit,
 * the same commit ids after a lost cache, and bounded failures.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { startMoonbitUpstream, type MoonbitUpstream } from '../../test/support/moonbit-upstream.js';
import { tempDir } from '../../test/support/tmp.js';
import { gitHistoryDir, syncGitHistory } from '../registry/git-history/build.js';
import { forgetHistoryTips, historyTip } from '../registry/git-history/state.js';
import type { GitHistoryRef } from '../registry/git-history/record.js';
import { syncUpstreamGit, upstreamCacheDir } from './git-upstream.js';

const run = promisify(execFile);
const FIXTURE = path.resolve('../shared/fixtures/moonbit-sample');
const scratch = tempDir('larder-git-upstream-');
afterAll(() => scratch.remove());

/** Every file below `dir` (not .git) with its bytes, by relative path. */
function readFiles(dir: string, skip = '.git'): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === skip) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

function fixtureFiles(): Map<string, Buffer> {
  const all = readFiles(FIXTURE);
  all.delete('MANIFEST.sha256');
  return all;
}

let clones = 0;
/** `git clone --depth 1 --single-branch --no-tags` of a bare directory, as moon runs it. */
async function clone(bare: string): Promise<string> {
  const dir = path.join(scratch.path, `clone-${++clones}`);
  await run('git', ['clone', '-q', '--depth', '1', '--single-branch', '--no-tags', `file://${bare}`, dir]);
  return dir;
}

async function head(repo: string): Promise<string> {
  return (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
}

async function commitRows(app: TestApp, ref: GitHistoryRef) {
  return app.registry.db
    .selectFrom('git_history')
    .select(['id', 'message'])
    .where('repo_id', '=', ref.repoId)
    .where('history', '=', ref.history)
    .orderBy('id')
    .execute();
}

async function changedPaths(app: TestApp, commitId: number): Promise<string[]> {
  const rows = await app.registry.db
    .selectFrom('git_history_files')
    .select('path')
    .where('commit_id', '=', commitId)
    .orderBy('path')
    .execute();
  return rows.map((r) => r.path);
}

describe('syncUpstreamGit', () => {
  let up: MoonbitUpstream;
  let app: TestApp;
  let ref: GitHistoryRef;
  const upstream = () => ({ url: `${up.url}/git/index`, branch: 'main' });
  const bare = () => gitHistoryDir(app.data, ref);

  beforeAll(async () => {
    up = await startMoonbitUpstream();
    app = await openTestApp({ repos: [{ name: 'mooncakes', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url }] });
    ref = { repoId: app.registry.repos.get('mooncakes')!.id, history: 'index' };
    for (const [p, body] of fixtureFiles()) up.write({ [p]: body });
  });
  afterAll(async () => {
    await app.stop();
    await up.close();
  });

  it('copies the upstream index byte for byte, and a shallow clone of the proxy history checks out the same files', async () => {
    const upstreamCommit = await up.commit('snapshot');
    const sync = await syncUpstreamGit(app.registry, ref, upstream());
    expect(sync.upstreamCommit).toBe(upstreamCommit);
    expect(sync.changed).toBe(fixtureFiles().size);

    const tip = await historyTip(app.registry.db, ref);
    const want = fixtureFiles();
    expect([...tip.files.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [p, body] of want) expect(Buffer.from(tip.files.get(p)!.data).equals(body), p).toBe(true);
    // The non-ASCII and nested names come through as UTF-8 paths.
    expect(tip.files.has('user/lijunchen/nested/lib1.index')).toBe(true);

    const dir = await clone(await syncGitHistory(app.registry.db, { ...ref, dir: bare() }));
    expect((await run('git', ['-C', dir, 'rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim()).toBe('main');
    const got = readFiles(dir);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [p, body] of want) expect(got.get(p)!.equals(body), p).toBe(true);
    const rows = await commitRows(app, ref);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.message).toContain(`Upstream-Commit: ${upstreamCommit}`);
  });

  it('records one fast-forward commit with only the changed files when the upstream grows, and none for a commit it already copied', async () => {
    const dir = await clone(bare());
    const before = await head(dir);
    up.module('alice/json', '0.1.0');
    up.module('moonbitlang/lex', '9.9.9');
    up.write({ 'yanked.json': null });
    await up.commit('grow');
    await syncUpstreamGit(app.registry, ref, upstream());
    const rows = await commitRows(app, ref);
    expect(rows).toHaveLength(2);
    expect(await changedPaths(app, rows[1]!.id)).toEqual(['user/alice/json.index', 'user/moonbitlang/lex.index', 'yanked.json']);

    // The same upstream commit again: nothing recorded.
    const again = await syncUpstreamGit(app.registry, ref, upstream());
    expect(again.changed).toBe(0);
    expect(await commitRows(app, ref)).toHaveLength(2);

    await syncGitHistory(app.registry.db, { ...ref, dir: bare() });
    await run('git', ['-C', dir, 'pull', '-q', '--ff-only', 'origin', 'main']);
    expect((await run('git', ['-C', dir, 'merge-base', '--is-ancestor', before, 'HEAD'])).stdout).toBe('');
    expect(fs.existsSync(path.join(dir, 'yanked.json'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'user/alice/json.index'), 'utf8')).toMatch(/"version":"0.1.0"/);
  });

  it('records one commit when two syncs race for the same new upstream commit', async () => {
    up.module('alice/json', '0.2.0');
    await up.commit('race');
    const n = (await commitRows(app, ref)).length;
    const results = await Promise.all([
      syncUpstreamGit(app.registry, ref, upstream()),
      syncUpstreamGit(app.registry, ref, upstream()),
      syncUpstreamGit(app.registry, ref, upstream()),
    ]);
    expect(new Set(results.map((r) => r.upstreamCommit)).size).toBe(1);
    expect(await commitRows(app, ref)).toHaveLength(n + 1);
  });

  it('serves the same commit ids after both caches are deleted', async () => {
    const before = await head(await clone(await syncGitHistory(app.registry.db, { ...ref, dir: bare() })));
    fs.rmSync(bare(), { recursive: true, force: true });
    fs.rmSync(upstreamCacheDir(app.data, ref), { recursive: true, force: true });
    forgetHistoryTips(app.registry.db);
    // A sync with nothing new upstream records nothing, even from a fresh fetch cache.
    const n = (await commitRows(app, ref)).length;
    await syncUpstreamGit(app.registry, ref, upstream());
    expect(await commitRows(app, ref)).toHaveLength(n);
    const after = await head(await clone(await syncGitHistory(app.registry.db, { ...ref, dir: bare() })));
    expect(after).toBe(before);
  });

  it('fails with UPSTREAM_FAILED (502) naming the upstream when it is down or has no main branch', async () => {
    await up.stop();
    try {
      const err = await syncUpstreamGit(app.registry, ref, upstream()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UPSTREAM_FAILED', status: 502 });
      expect((err as Error).message).toContain(`${up.url}/git/index`);
    } finally {
      await up.start();
    }
    const missing = await syncUpstreamGit(app.registry, ref, { ...upstream(), branch: 'trunk' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'UPSTREAM_FAILED', message: expect.stringContaining('has no branch trunk') as unknown });
  });
});

describe('syncUpstreamGit bounded by [outbound] timeout', () => {
  it('gives up on a fetch that hangs with UPSTREAM_TIMEOUT (504) and records nothing', async () => {
    const up = await startMoonbitUpstream();
    const app = await openTestApp({
      repos: [{ name: 'mooncakes', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url }],
      outbound: { timeoutMs: 1_000 },
    });
    try {
      const ref = { repoId: app.registry.repos.get('mooncakes')!.id, history: 'index' };
      up.module('alice/json', '0.1.0');
      await up.commit();
      up.hangGit = true;
      const err = await syncUpstreamGit(app.registry, ref, { url: `${up.url}/git/index`, branch: 'main' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 504 });
      expect((err as Error).message).toContain('[outbound] timeout');
      expect(await commitRows(app, ref)).toHaveLength(0);
    } finally {
      await app.stop();
      await up.close();
    }
  });
});
