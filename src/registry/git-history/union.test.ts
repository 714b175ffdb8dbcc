/**
 * A group's git history as the union of its members' (hosted first): which member's files a package
 * takes, when the group records a commit, and that its commit ids come from rows alone.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { inTransaction } from '../tx.js';
import { gitHistoryDir, syncGitHistory } from './build.js';
import { recordGitCommit, type GitHistoryRef } from './record.js';
import { forgetHistoryTips, gitBlobId, historyTip } from './state.js';
import { syncUnionHistory, uniteFiles, type UnionRules } from './union.js';

const run = promisify(execFile);
/** MoonBit's rule: `user/<module>.index` belongs to its module, anything else to the repo. */
const rules: UnionRules = {
  packageOf: (p) => (p.startsWith('user/') && p.endsWith('.index') ? p.slice(5, -6) : null),
};
const file = (s: string) => {
  const data = Buffer.from(s);
  return { mode: '100644' as const, data, blob: gitBlobId(data) };
};
const tip = (files: Record<string, string>) => ({
  head: 1,
  message: '',
  files: new Map(Object.entries(files).map(([p, s]) => [p, file(s)])),
});
const text = (m: ReadonlyMap<string, { data: Uint8Array }>) =>
  Object.fromEntries([...m].map(([p, f]) => [p, Buffer.from(f.data).toString()]));

describe('uniteFiles', () => {
  it('gives every file of a package to the first member that has any of it, and repo-level files to the first or the merge', () => {
    const hosted = tip({ 'user/alice/x.index': 'h-x\n', 'yanked.json': 'h' });
    const proxy = tip({
      'user/alice/x.index': 'p-x\n',
      'user/alice/x/sub.index': 'p-sub\n',
      'user/bob/y.index': 'p-y\n',
      'yanked.json': 'p',
    });
    expect(text(uniteFiles([hosted, proxy], rules))).toEqual({
      'user/alice/x.index': 'h-x\n',
      // A nested module is a package of its own: only the proxy has it.
      'user/alice/x/sub.index': 'p-sub\n',
      'user/bob/y.index': 'p-y\n',
      'yanked.json': 'h',
    });
    const merged = uniteFiles([hosted, proxy], { ...rules, merge: (_p, copies) => Buffer.from(copies.map((c) => c.data).join('+')) });
    expect(text(merged)['yanked.json']).toBe('h+p');
  });
});

describe('syncUnionHistory', () => {
  let app: TestApp;
  let h: GitHistoryRef;
  let p: GitHistoryRef;
  let g: GitHistoryRef;
  const commit = (ref: GitHistoryRef, files: Record<string, string | null>, at = 1_700_000_000) =>
    inTransaction(app.registry, (uow) =>
      recordGitCommit(uow.trx, ref, {
        message: `change ${Object.keys(files).join(' ')}`,
        at,
        changes: Object.entries(files).map(([p, s]) => ({ path: p, data: s === null ? null : Buffer.from(s) })),
      }),
    );
  const groupRows = () =>
    app.registry.db
      .selectFrom('git_history')
      .select(['id', 'message'])
      .where('repo_id', '=', g.repoId)
      .where('history', '=', 'index')
      .execute();
  const sync = () => syncUnionHistory(app.registry, g, [h, p], rules);

  beforeEach(async () => {
    app = await openTestApp({
      repos: [
        { name: 'h', format: 'moonbit', kind: 'hosted', visibility: 'public' },
        { name: 'p', format: 'moonbit', kind: 'hosted', visibility: 'public' },
        { name: 'g', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      ],
    });
    const ref = (name: string) => ({ repoId: app.registry.repos.get(name)!.id, history: 'index' });
    [h, p, g] = [ref('h'), ref('p'), ref('g')];
  });
  afterEach(() => app.stop());

  it('serves a module hosted first and one only upstream from the upstream; one commit per member change, none without', async () => {
    await commit(h, { 'user/alice/x.index': 'hosted x\n' });
    await commit(p, { 'user/alice/x.index': 'upstream x\n', 'user/bob/y.index': 'upstream y\n' });
    await sync();
    expect(text((await historyTip(app.registry.db, g)).files)).toEqual({
      'user/alice/x.index': 'hosted x\n',
      'user/bob/y.index': 'upstream y\n',
    });
    expect(await groupRows()).toHaveLength(1);

    // Nothing moved: no commit.
    await sync();
    expect(await groupRows()).toHaveLength(1);

    // The upstream grows: one commit, with only what changed in the union.
    await commit(p, { 'user/bob/y.index': 'upstream y\nupstream y2\n', 'user/alice/x.index': 'upstream x changed\n' });
    await sync();
    const rows = await groupRows();
    expect(rows).toHaveLength(2);
    const changed = await app.registry.db.selectFrom('git_history_files').select('path').where('commit_id', '=', rows[1]!.id).execute();
    expect(changed.map((c) => c.path)).toEqual(['user/bob/y.index']);

    // A hosted publish of a module the upstream has too: the hosted file still wins.
    await commit(h, { 'user/alice/x.index': 'hosted x\nhosted x2\n' });
    await sync();
    const files = (await historyTip(app.registry.db, g)).files;
    expect(Buffer.from(files.get('user/alice/x.index')!.data).toString()).toBe('hosted x\nhosted x2\n');
    expect(await groupRows()).toHaveLength(3);
  });

  it('records one commit when syncs race, and the same commit ids when the cache is rebuilt', async () => {
    await commit(h, { 'user/alice/x.index': 'a\n' });
    await commit(p, { 'user/bob/y.index': 'b\n' });
    await Promise.all([sync(), sync(), sync()]);
    expect(await groupRows()).toHaveLength(1);
    await commit(p, { 'user/bob/y.index': 'b\nb2\n' });
    await sync();

    const dir = gitHistoryDir(app.data, g);
    const log = async () => (await run('git', ['--git-dir', dir, 'log', '--format=%H', 'main'])).stdout;
    await syncGitHistory(app.registry.db, { ...g, dir });
    const before = await log();
    expect(before.trim().split('\n')).toHaveLength(2);
    fs.rmSync(dir, { recursive: true, force: true });
    forgetHistoryTips(app.registry.db);
    await syncGitHistory(app.registry.db, { ...g, dir: path.join(dir) });
    expect(await log()).toBe(before);
  });
});
