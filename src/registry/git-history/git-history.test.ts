/**
 * Upgrading a database from Julia's own `julia_commits` to the shared `git_history`: the commit ids a
 * registry served before (built as the old git view built them) are the ids it serves after.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { juliaMigrations } from '../../formats/julia/migrations.js';
import { openDatabase } from '../../storage/db.js';
import { tempDir } from '../../../test/support/tmp.js';
import { syncGitHistory, type TreeSource } from './build.js';
import { recordGitCommit, type GitFile } from './record.js';

const run = promisify(execFile);
const dir = tempDir('larder-git-history-');
afterAll(() => dir.remove());

const REG_A = '1b2c3d4e-0000-4000-8000-00000000000a';
const REG_B = '1b2c3d4e-0000-4000-8000-00000000000b';
const file = (p: string, s: string, mode: GitFile['mode'] = '100644'): GitFile => ({ path: p, mode, data: Buffer.from(s) });
const TREES: GitFile[][] = [
  [file('Registry.toml', 'name = "A"\n')],
  [file('Registry.toml', 'name = "A"\n'), file('F/Foo/Versions.toml', '["0.1.0"]\n'), file('bin/run', '#!/bin/sh\n', '100755')],
  [file('Registry.toml', 'name = "B"\n'), file('Ü/Über/Package.toml', 'name = "Über"\n'), file('🦀/模块.toml', 'x\n')],
];

/** The old git view's way to write a tree: files in a work tree, `git add -A` into a scratch index. */
async function writeTreeOldWay(gitDir: string, files: GitFile[]): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(dir.path, 'tree-'));
  const work = path.join(tmp, 'work');
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(work, f.path)), { recursive: true });
    fs.writeFileSync(path.join(work, f.path), f.data, { mode: f.mode === '100755' ? 0o755 : 0o644 });
  }
  const env = { ...process.env, GIT_INDEX_FILE: path.join(tmp, 'index') };
  await run('git', ['--git-dir', gitDir, '--work-tree', work, '-c', 'core.autocrlf=false', 'add', '-A'], { env });
  return (await run('git', ['--git-dir', gitDir, 'write-tree'], { env })).stdout.trim();
}

/** The old git view's commits (`git commit-tree -m` with the fixed identity), one per `julia_commits` row. */
async function buildOldWay(gitDir: string, rows: Array<{ tree_hash: string; message: string; at: number }>, trees: Map<string, GitFile[]>) {
  await run('git', ['init', '-q', '--bare', '--initial-branch=master', gitDir]);
  let parent = '';
  for (const c of rows) {
    await writeTreeOldWay(gitDir, trees.get(c.tree_hash)!);
    const stamp = `${c.at} +0000`;
    const env = {
      ...process.env,
      ...{ GIT_AUTHOR_NAME: 'Larder', GIT_AUTHOR_EMAIL: 'larder@localhost', GIT_AUTHOR_DATE: stamp },
      ...{ GIT_COMMITTER_NAME: 'Larder', GIT_COMMITTER_EMAIL: 'larder@localhost', GIT_COMMITTER_DATE: stamp },
    };
    const args = ['--git-dir', gitDir, 'commit-tree', c.tree_hash, ...(parent ? ['-p', parent] : []), '-m', c.message];
    parent = (await run('git', args, { env })).stdout.trim();
    await run('git', ['--git-dir', gitDir, 'update-ref', 'refs/heads/master', parent]);
  }
  return history(gitDir);
}

const history = async (gitDir: string) =>
  (await run('git', ['--git-dir', gitDir, 'rev-list', 'refs/heads/master'])).stdout.trim().split('\n').filter(Boolean);

it('keeps the commit ids of registries recorded in julia_commits after the upgrade, cache rebuilt or kept', async () => {
  const file = path.join(dir.path, 'old.db');
  const old = await openDatabase(
    { kind: 'sqlite', path: file },
    juliaMigrations.filter((m) => m.name !== 'julia_0005_git_history'),
  );
  const db = old.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  await db.insertInto('repos').values({ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public', created_at: 0 }).execute();
  const scratch = path.join(dir.path, 'scratch.git');
  await run('git', ['init', '-q', '--bare', scratch]);
  const trees = new Map<string, GitFile[]>();
  const ids: string[] = [];
  for (const t of TREES) {
    const id = await writeTreeOldWay(scratch, t);
    trees.set(id, t);
    ids.push(id);
  }
  const rows = [
    { registry_uuid: REG_A, tree_hash: ids[0], message: 'Create registry A', at: 1_700_000_000 },
    { registry_uuid: REG_B, tree_hash: ids[2], message: 'Import registry B 🦀', at: 1_700_000_001 },
    { registry_uuid: REG_A, tree_hash: ids[1], message: 'New version: Foo v0.1.0\n\nUUID: 1\nTree: x', at: 1_700_000_002 },
    { registry_uuid: REG_A, tree_hash: ids[1], message: 'Yank: Foo v0.1.0', at: 1_700_000_003 },
  ];
  for (const r of rows)
    await db
      .insertInto('julia_commits')
      .values({ repo_id: 1, ...r })
      .execute();
  const oldA = await buildOldWay(
    path.join(dir.path, 'old-a.git'),
    rows.filter((r) => r.registry_uuid === REG_A),
    trees,
  );
  const oldB = await buildOldWay(
    path.join(dir.path, 'old-b.git'),
    rows.filter((r) => r.registry_uuid === REG_B),
    trees,
  );
  fs.writeFileSync(path.join(dir.path, 'old-a.git', 'larder-applied'), '4');
  await old.close();

  const upgraded = await openDatabase({ kind: 'sqlite', path: file }, juliaMigrations);
  try {
    const served: string[][] = [];
    const source: TreeSource = async (tree, add) => {
      for (const f of trees.get(tree) ?? []) await add(f);
    };
    const sync = (history: string, gitDir: string) =>
      syncGitHistory(upgraded.db, { repoId: 1, history, dir: gitDir, branch: 'master', trees: source });
    // A fresh cache, built from the migrated rows through the tree source.
    for (const [uuid, name] of [
      [REG_A, 'new-a.git'],
      [REG_B, 'new-b.git'],
    ])
      served.push(await history(await sync(uuid, path.join(dir.path, name))));
    expect(served).toEqual([oldA, oldB]);
    expect(oldA).toHaveLength(3);
    // The cache the old code left (its trees present, no state of the new code): the branch stays where it was.
    expect(await history(await sync(REG_A, path.join(dir.path, 'old-a.git')))).toEqual(oldA);

    // The next change fast-forwards the branch the old code served.
    await recordGitCommit(upgraded.db, { repoId: 1, history: REG_A }, { tree: ids[0], message: 'Back', at: 1_700_000_004 });
    const next = await history(await sync(REG_A, path.join(dir.path, 'old-a.git')));
    expect(next.slice(1)).toEqual(oldA);
    expect(await history(await sync(REG_A, path.join(dir.path, 'new-a.git')))).toEqual(next);
    const left = await upgraded.db.selectFrom('git_history').select(['history', 'tree', 'message']).orderBy('id').execute();
    expect(left.map((r) => r.message)).toEqual([...rows.map((r) => r.message), 'Back']);
  } finally {
    await upgraded.close();
  }
});

it('refuses paths a clone would write outside its work tree, and history names that are not directory names', async () => {
  const handle = await openDatabase({ kind: 'sqlite', path: ':memory:' });
  try {
    await handle.db.insertInto('repos').values({ name: 'r', format: 'x', kind: 'hosted', visibility: 'public', created_at: 0 }).execute();
    const ref = { repoId: 1, history: 'index' };
    for (const p of ['../x', 'a/../../x', '.git/config', 'a/.GIT/hooks', '/abs', 'a//b', 'a/', 'a\nb'])
      await expect(recordGitCommit(handle.db, ref, { message: 'm', changes: [{ path: p, data: Buffer.from('x') }] }), p).rejects.toThrow(
        /not a relative path/,
      );
    for (const history of ['../x', 'a/b', '.hidden', ''])
      await expect(recordGitCommit(handle.db, { repoId: 1, history }, { message: 'm', changes: [] }), history).rejects.toThrow(
        /history name/,
      );
    await expect(recordGitCommit(handle.db, ref, { message: 'm' })).rejects.toThrow(/either a tree or changes/);
    expect(await handle.db.selectFrom('git_history').selectAll().execute()).toEqual([]);
  } finally {
    await handle.close();
  }
});
