import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import { LarderError } from '../../core/errors.js';
import type { Database } from '../../storage/schema.js';
import { FastImport } from './fast-import.js';
import { checkHistoryName, type GitFile, type GitFileMode, type GitHistoryRef } from './record.js';

const run = promisify(execFile);
const git = (dir: string, ...args: string[]) =>
  run('git', ['--git-dir', dir, ...args], { env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
const ZERO = '0'.repeat(40);
/** Rows read (and their files held) at once while a cache is built. */
const BATCH = 200;
const STATE_FILE = 'larder-history';
let importCount = 0;

/** Lists the files of a recorded tree id (from where the format keeps that tree, e.g. a tarball). */
export type TreeSource = (tree: string, add: (file: GitFile) => Promise<void>) => Promise<void>;

/** Where a history's bare repository (the cache) lives, and how it is built. */
export interface GitHistoryCache extends GitHistoryRef {
  /** The bare repository directory; it may be deleted at any time and is rebuilt with the same commit ids. */
  dir: string;
  /** The branch HEAD names; `main` unless the history was first served on another. */
  branch?: string;
  /** Needed when the history records whole trees rather than changes. */
  trees?: TreeSource;
}

/** The default cache directory of a history: `DATA/git-history/{repo id}/{history}.git`. */
export function gitHistoryDir(dataDir: string, ref: GitHistoryRef): string {
  checkHistoryName(ref.history);
  return path.join(dataDir, 'git-history', String(ref.repoId), `${ref.history}.git`);
}

interface State {
  row: number;
  commit: string;
}

const syncing = new Map<string, Promise<unknown>>();

/**
 * Brings a history's bare repository up to date with its recorded commits and returns its directory.
 * The branch only moves forward, and its commit ids are a function of the rows alone, so every node
 * (and a rebuilt cache) serves the same ids. When nothing is new, no git process runs.
 */
export async function syncGitHistory(db: Kysely<Database>, cache: GitHistoryCache): Promise<string> {
  checkHistoryName(cache.history);
  const key = path.resolve(cache.dir);
  for (let waiting = syncing.get(key); waiting; waiting = syncing.get(key)) await waiting.catch(() => {});
  const work = syncOnce(db, cache);
  syncing.set(key, work);
  try {
    await work;
  } finally {
    if (syncing.get(key) === work) syncing.delete(key);
  }
  return cache.dir;
}

async function syncOnce(db: Kysely<Database>, cache: GitHistoryCache): Promise<void> {
  const { dir } = cache;
  const branch = `refs/heads/${cache.branch ?? 'main'}`;
  if (!fs.existsSync(path.join(dir, 'HEAD'))) {
    fs.mkdirSync(dir, { recursive: true });
    await run('git', ['init', '-q', '--bare', `--initial-branch=${cache.branch ?? 'main'}`, dir]);
  }
  const saved = readState(dir);
  const first = await nextRows(db, cache, saved?.row ?? 0);
  // Usually nothing is new: then no git process runs for this request at all.
  if (!first.length) return;
  // A state whose commit is gone (a half-deleted cache) means building from the first row again.
  const state = saved && (await hasObject(dir, `${saved.commit}^{commit}`)) ? saved : null;
  const from = state?.row ?? 0;
  const rows = state === saved ? first : await nextRows(db, cache, 0);

  const tmpRef = `refs/larder/sync-${process.pid}-${++importCount}`;
  const fi = new FastImport(dir);
  let last = { row: from, count: 0 };
  const checks: Array<{ index: number; tree: string }> = [];
  try {
    let parent = state?.commit;
    for (let batch = rows; batch.length; batch = await nextRows(db, cache, last.row)) {
      const files = await changedFiles(db, batch);
      const present = await existingTrees(
        dir,
        batch.flatMap((r) => (r.tree ? [r.tree] : [])),
      );
      for (const r of batch) {
        await fi.commit(tmpRef, Number(r.at), r.message, parent);
        parent = undefined;
        if (r.tree) {
          checks.push({ index: last.count, tree: r.tree });
          await fi.deleteAll();
          if (present.has(r.tree)) await fi.rootTree(r.tree);
          else if (!cache.trees) throw new LarderError('INTERNAL', `git history ${cache.history} records trees but has no tree source`);
          else await cache.trees(r.tree, (f) => fi.file(f.path, f.mode, f.data));
        }
        for (const f of files.get(r.id) ?? []) {
          if (f.body === null) await fi.remove(f.path);
          else await fi.file(f.path, f.mode as GitFileMode, f.body);
        }
        last = { row: r.id, count: last.count + 1 };
      }
    }
    await fi.finish();
  } catch (err) {
    fi.abort();
    await git(dir, 'update-ref', '-d', tmpRef).catch(() => {});
    throw err;
  }
  try {
    const trees = (await git(dir, 'log', '--first-parent', '--format=%H %T', `-${last.count}`, tmpRef)).stdout.trim().split('\n').reverse();
    for (const { index, tree } of checks) {
      const built = trees[index]?.split(' ')[1];
      if (built !== tree) throw new LarderError('INTERNAL', `git history ${cache.history}: recorded tree ${tree} was built as ${built}`);
    }
    const tip = trees[trees.length - 1].split(' ')[0];
    await advance(dir, branch, tip);
    writeState(dir, { row: last.row, commit: tip });
  } finally {
    await git(dir, 'update-ref', '-d', tmpRef).catch(() => {});
  }
}

/** Moves the branch to `tip` unless another process already moved it to `tip` or beyond. */
async function advance(dir: string, branch: string, tip: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await git(dir, 'rev-parse', '--verify', '-q', branch).then(
      (r) => r.stdout.trim(),
      () => '',
    );
    if (current === tip) return;
    if (current && (await isAncestor(dir, tip, current))) return;
    // Anything else is older, or a cache that disagrees with the database: the database wins.
    try {
      await git(dir, 'update-ref', branch, tip, current || ZERO);
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

async function isAncestor(dir: string, a: string, b: string): Promise<boolean> {
  return git(dir, 'merge-base', '--is-ancestor', a, b).then(
    () => true,
    () => false,
  );
}

async function hasObject(dir: string, name: string): Promise<boolean> {
  return git(dir, 'cat-file', '-e', name).then(
    () => true,
    () => false,
  );
}

/** Which of `trees` the repository already holds (one git process for all of them). */
async function existingTrees(dir: string, trees: string[]): Promise<Set<string>> {
  if (!trees.length) return new Set();
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile('git', ['--git-dir', dir, 'cat-file', '--batch-check'], (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(trees.map((t) => `${t}\n`).join(''));
  });
  return new Set(
    out
      .split('\n')
      .filter((l) => / tree \d+$/.test(l))
      .map((l) => l.split(' ')[0]),
  );
}

function nextRows(db: Kysely<Database>, ref: GitHistoryRef, after: number) {
  return db
    .selectFrom('git_history')
    .select(['id', 'tree', 'message', 'at'])
    .where('repo_id', '=', ref.repoId)
    .where('history', '=', ref.history)
    .where('id', '>', after)
    .orderBy('id')
    .limit(BATCH)
    .execute();
}

async function changedFiles(db: Kysely<Database>, rows: Array<{ id: number; tree: string | null }>) {
  const ids = rows.filter((r) => !r.tree).map((r) => r.id);
  const byCommit = new Map<number, Array<{ path: string; mode: string; body: Uint8Array | null }>>();
  if (!ids.length) return byCommit;
  const files = await db
    .selectFrom('git_history_files')
    .select(['commit_id', 'path', 'mode', 'body'])
    .where('commit_id', 'in', ids)
    .orderBy('commit_id')
    .orderBy('path')
    .execute();
  for (const f of files) {
    let list = byCommit.get(f.commit_id);
    if (!list) byCommit.set(f.commit_id, (list = []));
    list.push(f);
  }
  return byCommit;
}

function readState(dir: string): State | null {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as State;
    return Number.isInteger(s.row) && /^[0-9a-f]{40}$/.test(s.commit) ? s : null;
  } catch {
    return null;
  }
}

/** Atomically: a concurrent reader sees the old state or the new, both of which are true. */
function writeState(dir: string, state: State): void {
  const tmp = path.join(dir, `${STATE_FILE}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, path.join(dir, STATE_FILE));
}
