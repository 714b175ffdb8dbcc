/** The files at a history's tip, read from recorded changes, and the diff the next commit records. */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { inTransaction } from '../tx.js';
import { recordGitCommit, type GitHistoryRef } from './record.js';
import { diffFiles, forgetHistoryTips, gitBlobId, historyHead, historyTip } from './state.js';

const text = (files: ReadonlyMap<string, { data: Uint8Array }>) =>
  Object.fromEntries([...files].map(([p, f]) => [p, Buffer.from(f.data).toString()]));

describe('gitBlobId', () => {
  it('is the id git gives the same bytes', () => {
    const data = Buffer.from('{"version":"0.1.0"}\n模块 🦀\n');
    expect(gitBlobId(data)).toBe(execFileSync('git', ['hash-object', '--stdin'], { input: data }).toString().trim());
  });
});

describe('diffFiles', () => {
  it('lists writes and removals in git byte order and leaves unchanged files out', () => {
    const f = (s: string, mode: '100644' | '100755' = '100644') => ({ mode, data: Buffer.from(s), blob: gitBlobId(Buffer.from(s)) });
    const from = new Map([
      ['user/a.index', f('a')],
      ['user/b.index', f('b')],
      ['run', f('x')],
    ]);
    const to = new Map([
      ['user/a.index', f('a')],
      ['user/é.index', f('new')],
      ['user/Z.index', f('z')],
      ['run', f('x', '100755')],
    ]);
    expect(diffFiles(from, to).map((c) => [c.path, c.mode, c.data === null ? null : Buffer.from(c.data).toString()])).toEqual([
      ['run', '100755', 'x'],
      ['user/Z.index', '100644', 'z'],
      ['user/b.index', '100644', null],
      ['user/é.index', '100644', 'new'],
    ]);
  });
});

describe('historyTip', () => {
  let app: TestApp;
  let ref: GitHistoryRef;
  beforeAll(async () => {
    app = await openTestApp({ repos: [{ name: 'h', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
    ref = { repoId: app.registry.repos.get('h')!.id, history: 'index' };
  });
  afterAll(() => app.stop());
  const commit = (message: string, files: Record<string, string | null>) =>
    inTransaction(app.registry, (uow) =>
      recordGitCommit(uow.trx, ref, {
        message,
        changes: Object.entries(files).map(([path, s]) => ({ path, data: s === null ? null : Buffer.from(s) })),
      }),
    );

  it('is empty with head 0 before any commit, then follows every recorded change', async () => {
    expect(await historyTip(app.registry.db, ref)).toMatchObject({ head: 0, message: '' });
    expect(await historyHead(app.registry.db, ref)).toBeNull();
    await commit('one', { 'user/a.index': '1\n', 'yanked.json': '{}' });
    const first = await historyTip(app.registry.db, ref);
    expect(text(first.files)).toEqual({ 'user/a.index': '1\n', 'yanked.json': '{}' });
    expect(first.message).toBe('one');

    // Brought forward from the cached tip: a change and a removal.
    const id = await commit('two', { 'user/a.index': '1\n2\n', 'yanked.json': null });
    const second = await historyTip(app.registry.db, ref);
    expect(second.head).toBe(id);
    expect(text(second.files)).toEqual({ 'user/a.index': '1\n2\n' });
    // The earlier tip is not changed in place (a reader holding it keeps what it read).
    expect(text(first.files)).toEqual({ 'user/a.index': '1\n', 'yanked.json': '{}' });

    // Read from scratch (another process): the same files.
    forgetHistoryTips(app.registry.db);
    expect(text((await historyTip(app.registry.db, ref)).files)).toEqual({ 'user/a.index': '1\n2\n' });
  });

  it('sees what a transaction recorded so far inside it, and nothing of it after a rollback', async () => {
    const before = text((await historyTip(app.registry.db, ref)).files);
    await inTransaction(app.registry, async (uow) => {
      await recordGitCommit(uow.trx, ref, { message: 'three', changes: [{ path: 'user/c.index', data: Buffer.from('c\n') }] });
      const inside = await historyTip(app.registry.db, ref, { trx: uow.trx });
      expect(text(inside.files)['user/c.index']).toBe('c\n');
      throw new Error('roll back');
    }).catch(() => {});
    expect(text((await historyTip(app.registry.db, ref)).files)).toEqual(before);
  });

  it('keeps the tips of two databases apart, even for the same repo ids', async () => {
    const other = await openTestApp({ repos: [{ name: 'h', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
    try {
      const otherRef = { repoId: other.registry.repos.get('h')!.id, history: 'index' };
      expect(otherRef.repoId).toBe(ref.repoId);
      const mine = await historyTip(app.registry.db, ref);
      await inTransaction(other.registry, (uow) =>
        recordGitCommit(uow.trx, otherRef, { message: 'elsewhere', changes: [{ path: 'user/o.index', data: Buffer.from('o\n') }] }),
      );
      expect(text((await historyTip(other.registry.db, otherRef)).files)).toEqual({ 'user/o.index': 'o\n' });
      expect(await historyTip(app.registry.db, ref)).toBe(mine);
    } finally {
      await other.stop();
    }
  });
});
