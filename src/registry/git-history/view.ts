/**
 * A git view of a repo's documents (Cargo's git index): the documents a format names, plus root files
 * built from the repo's URL (config.json), recorded as commits of a change history. Writes only mark
 * the paths they touch (`git_view_pending`, in their transaction); the next read of the view after the
 * batch window seals every marked path into one commit, under the history lock, so a burst of publishes
 * makes one commit and every node serves the commits the database holds. Past a number of commits the
 * history is squashed into one root commit: a new generation (`index.1`, `index.2`, …) whose first
 * row holds every file, after which the old generation's rows are deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../../storage/db.js';
import { prepared } from '../../storage/prepared.js';
import type { Database } from '../../storage/schema.js';
import { inTransaction, type UnitOfWork } from '../tx.js';
import { gitHistoryDir } from './build.js';
import { recordGitCommit, type GitChange, type GitHistoryRef } from './record.js';
import { gitBlobId, historyTip, lockHistory, type HistoryFile } from './state.js';

type Store = { db: Kysely<Database>; dialect: Dialect };

/** How a format's documents become a git view. */
export interface GitViewRules {
  /** The history's base name (generations add `.N`). */
  history: string;
  /** Whether a document path belongs in the view. */
  includes(path: string): boolean;
  /** Files at the root that are not documents (Cargo's config.json), for clients that reach the repo at `baseUrl`. */
  rootFiles(baseUrl: string): Array<{ path: string; data: Buffer }>;
  /** True when `baseUrl` is the configured public URL: root files then follow it; otherwise the first recorded base is kept. */
  fixedBase: boolean;
  /** The base URL the recorded root files were built for, or null. */
  recordedBase(files: ReadonlyMap<string, HistoryFile>): string | null;
  /** A new commit is sealed only this many seconds after the previous one (a burst of writes makes one commit). */
  batchSeconds: number;
  /** Past this many commits the history is squashed into one root commit. */
  squashAfter: number;
}

/** The generation `n` of a history: `index`, then `index.1`, `index.2`, … */
export function generationName(base: string, n: number): string {
  return n === 0 ? base : `${base}.${n}`;
}

function generationOf(base: string, history: string): number {
  if (history === base) return 0;
  const n = Number(history.slice(base.length + 1));
  return Number.isInteger(n) && n > 0 ? n : -1;
}

/** The generation the newest row of a history family belongs to, with that row (null: none yet). */
export async function currentGeneration(
  db: Kysely<Database>,
  family: GitHistoryRef,
): Promise<{ ref: GitHistoryRef; n: number; head: { id: number; at: number; message: string } | null }> {
  const row = await db
    .selectFrom('git_history')
    .select(['id', 'history', 'at', 'message'])
    .where('repo_id', '=', family.repoId)
    .where((eb) => eb.or([eb('history', '=', family.history), eb('history', 'like', `${family.history}.%`)]))
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  const n = row ? generationOf(family.history, row.history) : 0;
  if (!row || n < 0) return { ref: family, n: 0, head: null };
  return { ref: { repoId: family.repoId, history: row.history }, n, head: { id: row.id, at: Number(row.at), message: row.message } };
}

/** Marks document paths of a repo with a git view as changed, inside the writer's transaction. */
export async function markGitViewChanged(trx: Kysely<Database>, repoId: number, paths: string[]): Promise<void> {
  if (paths.length === 1) return void (await markOne.all(trx, { repoId, path: paths[0] }));
  for (let i = 0; i < paths.length; i += 500)
    await trx
      .insertInto('git_view_pending')
      .values(paths.slice(i, i + 500).map((p) => ({ repo_id: repoId, path: p, changes: 1 })))
      // An update (not "do nothing"): it locks the row, so a seal's delete waits for this writer's commit.
      .onConflict((oc) => oc.columns(['repo_id', 'path']).doUpdateSet({ changes: sql`git_view_pending.changes + 1` }))
      .execute();
}

/** `markGitViewChanged` of one path (a publish's): prepared, it runs on every write. */
const markOne = prepared('git view pending path', (db: Kysely<Database>, p: { repoId: number; path: string }) =>
  db
    .insertInto('git_view_pending')
    .values({ repo_id: p.repoId, path: p.path, changes: 1 })
    .onConflict((oc) => oc.columns(['repo_id', 'path']).doUpdateSet({ changes: sql`git_view_pending.changes + 1` })),
);

/** What a view reads its documents from: the repo's rows, less a proxy's paths whose upstream said 404. */
async function readDocs(trx: Kysely<Database>, repoId: number, paths: string[] | null): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const query = (some: string[] | null) => {
    let q = trx
      .selectFrom('index_docs')
      .select(['path', 'body'])
      .where('repo_id', '=', repoId)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('proxy_docs')
              .select('proxy_docs.path')
              .where('proxy_docs.repo_id', '=', repoId)
              .whereRef('proxy_docs.path', '=', 'index_docs.path')
              .where('proxy_docs.status', '!=', 200),
          ),
        ),
      );
    if (some) q = q.where('path', 'in', some);
    return q.execute();
  };
  if (paths === null) for (const r of await query(null)) out.set(r.path, Buffer.from(r.body));
  else
    for (let i = 0; i < paths.length; i += 500) for (const r of await query(paths.slice(i, i + 500))) out.set(r.path, Buffer.from(r.body));
  return out;
}

/**
 * The root files a commit must write: those that differ from what the configured base (or, without one, the base
 * recorded first, so clients on other host names do not flip it back and forth) and the repo's settings make now.
 */
function rootChanges(rules: GitViewRules, baseUrl: string, files: ReadonlyMap<string, HistoryFile>): GitChange[] {
  const base = rules.fixedBase ? baseUrl : (rules.recordedBase(files) ?? baseUrl);
  const changes: GitChange[] = [];
  for (const f of rules.rootFiles(base)) if (files.get(f.path)?.blob !== gitBlobId(f.data)) changes.push({ path: f.path, data: f.data });
  return changes;
}

/** Whether a commit is due now: nothing recorded yet, root files to write, or marked paths and the batch window passed. */
async function due(
  store: Store,
  repoId: number,
  rules: GitViewRules,
  baseUrl: string,
  trx?: Kysely<Database>,
): Promise<{ due: boolean; ref: GitHistoryRef }> {
  const reader = trx ?? store.db;
  const gen = await currentGeneration(reader, { repoId, history: rules.history });
  if (!gen.head) return { due: true, ref: gen.ref };
  const tip = await historyTip(store.db, gen.ref, trx ? { trx } : {});
  if (rootChanges(rules, baseUrl, tip.files).length > 0) return { due: true, ref: gen.ref };
  if (Math.floor(Date.now() / 1000) - gen.head.at < rules.batchSeconds) return { due: false, ref: gen.ref };
  const marked = await reader.selectFrom('git_view_pending').select('path').where('repo_id', '=', repoId).limit(1).executeTakeFirst();
  return { due: marked !== undefined, ref: gen.ref };
}

/** A commit message naming what changed: `Update serde, tokio and 3 more`. */
function updateMessage(paths: string[], nameOf: (path: string) => string): string {
  if (paths.length === 0) return 'Update config.json';
  const names = [...new Set(paths.map(nameOf))].sort();
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `Update ${shown} and ${names.length - 5} more` : `Update ${shown}`;
}

/**
 * Brings a repo's git view up to date (a commit when one is due, a squash when the history is long) and
 * returns the history to serve. One indexed lookup or two when nothing is due.
 */
export async function syncGitView(store: Store, repoId: number, rules: GitViewRules, baseUrl: string): Promise<GitHistoryRef> {
  const family = { repoId, history: rules.history };
  const now = await due(store, repoId, rules, baseUrl);
  if (!now.due) return now.ref;
  await inTransaction(store, async (uow) => {
    await lockHistory(uow.trx, store.dialect, family);
    // Again under the lock: another node may have sealed the batch meanwhile.
    if ((await due(store, repoId, rules, baseUrl, uow.trx)).due) await seal(uow, store, repoId, rules, baseUrl);
  });
  return (await currentGeneration(store.db, family)).ref;
}

async function seal(uow: UnitOfWork, store: Store, repoId: number, rules: GitViewRules, baseUrl: string): Promise<void> {
  const trx = uow.trx;
  const gen = await currentGeneration(trx, { repoId, history: rules.history });
  const tip = await historyTip(store.db, gen.ref, { trx });
  // Deleted first: a writer's mark of the same path waits for this commit and is kept (see markGitViewChanged).
  const marked = (await trx.deleteFrom('git_view_pending').where('repo_id', '=', repoId).returning('path').execute())
    .map((r) => r.path)
    .filter((p) => rules.includes(p));
  const first = gen.head === null;
  // The first commit holds every document the repo has (a repo older than its view, or a proxy's held copies).
  const docs = await readDocs(trx, repoId, first ? null : marked);
  const paths = first ? [...docs.keys()].filter((p) => rules.includes(p)) : marked;
  const changes: GitChange[] = [];
  for (const p of paths) {
    const body = docs.get(p) ?? null;
    const old = tip.files.get(p);
    if (body === null ? old !== undefined : old?.blob !== gitBlobId(body)) changes.push({ path: p, data: body });
  }
  changes.push(...rootChanges(rules, baseUrl, tip.files));
  if (changes.length === 0 && !first) return;
  changes.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const docChanges = changes.map((c) => c.path).filter((p) => rules.includes(p));
  await recordGitCommit(trx, gen.ref, {
    message: first ? `Begin the ${rules.history}` : updateMessage(docChanges, (p) => p.slice(p.lastIndexOf('/') + 1)),
    changes,
  });
  await squashIfDue(uow, store, { repoId, history: rules.history }, rules.squashAfter);
}

/**
 * Inside a transaction holding the family's history lock: when the current generation has more than
 * `limit` commits, records the next generation's root commit (every file of the tip, the tip's message
 * kept below a first line) and deletes the old generation. Clients fetch with a forced refspec, as
 * from crates.io's squashed index.
 */
export async function squashIfDue(uow: UnitOfWork, store: Store, family: GitHistoryRef, limit: number): Promise<boolean> {
  const trx = uow.trx;
  const gen = await currentGeneration(trx, family);
  if (!gen.head) return false;
  const { n } = await trx
    .selectFrom('git_history')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('repo_id', '=', family.repoId)
    .where('history', '=', gen.ref.history)
    .executeTakeFirstOrThrow();
  const count = Number(n);
  if (count <= limit) return false;
  const tip = await historyTip(store.db, gen.ref, { trx });
  const next = { repoId: family.repoId, history: generationName(family.history, gen.n + 1) };
  await recordGitCommit(trx, next, {
    message: `Squash ${count} commits into one\n\n${gen.head.message}`,
    changes: [...tip.files].map(([p, f]) => ({ path: p, mode: f.mode, data: f.data })),
  });
  const old = trx.selectFrom('git_history').select('id').where('repo_id', '=', family.repoId).where('history', '=', gen.ref.history);
  await trx.deleteFrom('git_history_files').where('commit_id', 'in', old).execute();
  await trx.deleteFrom('git_history').where('repo_id', '=', family.repoId).where('history', '=', gen.ref.history).execute();
  return true;
}

/** Deletes the caches of a family's older generations (another node's squash leaves them behind); best effort. */
export function dropOldGenerations(dataDir: string, current: GitHistoryRef, base: string): void {
  const dir = path.dirname(gitHistoryDir(dataDir, current));
  const keep = path.basename(gitHistoryDir(dataDir, current));
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === keep || !name.endsWith('.git')) continue;
    const history = name.slice(0, -'.git'.length);
    if (generationOf(base, history) < 0 || (history !== base && !history.startsWith(`${base}.`))) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** The bytes a full clone of a history's cache downloads, near enough: its packed and loose objects. */
export function cloneBytes(gitDir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.idx') && !e.name.endsWith('.rev')) total += fs.statSync(p).size;
    }
  };
  walk(path.join(gitDir, 'objects'));
  return total;
}
