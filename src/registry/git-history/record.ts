import type { Kysely } from 'kysely';
import { fail } from '../../core/errors.js';
import type { Database } from '../../storage/schema.js';

/** One named history of one repo (a Julia registry's UUID, MoonBit's `index`). */
export interface GitHistoryRef {
  repoId: number;
  history: string;
}

/** A regular file, an executable or a symlink (whose data is its target). */
export type GitFileMode = '100644' | '100755' | '120000';

/** A file of a tree, as git stores it. */
export interface GitFile {
  path: string;
  mode: GitFileMode;
  data: Uint8Array;
}

/** A file a commit writes (`data`) or removes (`data` null); the mode defaults to a regular file. */
export interface GitChange {
  path: string;
  mode?: GitFileMode;
  data: Uint8Array | null;
}

/**
 * A commit to record: either the whole `tree` after it (a git tree id the history's `TreeSource`
 * can list the files of) or the `changes` from the previous commit.
 */
export interface NewGitCommit {
  message: string;
  /** Seconds since the epoch; now when left out. */
  at?: number;
  tree?: string;
  changes?: GitChange[];
}

/** History names become directory names of the cache: plain ASCII, no dots first. */
const HISTORY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MODES = new Set(['100644', '100755', '120000']);

/** Refuses a history name that could not be a cache directory name. */
export function checkHistoryName(history: string): void {
  if (!HISTORY_NAME.test(history)) fail('INTERNAL', `git history name ${JSON.stringify(history)} is not [A-Za-z0-9][A-Za-z0-9._-]*`);
}

/** Refuses a path git would refuse or a clone would write outside its work tree. */
export function checkGitPath(p: string): void {
  const parts = p.split('/');
  const bad = parts.some((c) => c === '' || c === '.' || c === '..' || c.toLowerCase() === '.git');
  if (bad || /[\0\n]/.test(p)) fail('INTERNAL', `git history path ${JSON.stringify(p)} is not a relative path of plain components`);
}

/**
 * Records one commit of a history inside the caller's transaction, so the commit exists exactly
 * when the change it describes does. Returns the row id (the order of the history). The caller
 * holds `lockHistory` (state.ts): row ids then follow commit order on every node, which the caches
 * (syncGitHistory reads rows past the last it built) and so the commit ids depend on.
 */
export async function recordGitCommit(trx: Kysely<Database>, ref: GitHistoryRef, commit: NewGitCommit): Promise<number> {
  checkHistoryName(ref.history);
  if ((commit.tree === undefined) === (commit.changes === undefined)) fail('INTERNAL', 'a git history commit has either a tree or changes');
  if (commit.tree !== undefined && !/^[0-9a-f]{40}$/.test(commit.tree)) fail('INTERNAL', `${commit.tree} is not a git tree id`);
  const changes = commit.changes ?? [];
  const seen = new Set<string>();
  for (const c of changes) {
    checkGitPath(c.path);
    if (c.mode !== undefined && !MODES.has(c.mode)) fail('INTERNAL', `git file mode ${c.mode} is not 100644, 100755 or 120000`);
    if (seen.has(c.path)) fail('INTERNAL', `git history commit changes ${c.path} twice`);
    seen.add(c.path);
  }
  const row = await trx
    .insertInto('git_history')
    .values({
      repo_id: ref.repoId,
      history: ref.history,
      tree: commit.tree ?? null,
      message: commit.message,
      at: commit.at ?? Math.floor(Date.now() / 1000),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // In slices: SQLite and PostgreSQL both cap the parameters of one statement.
  for (let i = 0; i < changes.length; i += 500)
    await trx
      .insertInto('git_history_files')
      .values(changes.slice(i, i + 500).map((c) => ({ commit_id: row.id, path: c.path, mode: c.mode ?? '100644', body: c.data })))
      .execute();
  return row.id;
}
