import { fail } from '../core/errors.js';
import type { RepoConfig } from '../core/config.js';
import type { Db } from '../storage/db.js';
import type { RepoRow } from '../storage/schema.js';

/** A repository as the server runs it: its configuration plus its database id. */
export interface Repo extends RepoConfig {
  id: number;
}

/**
 * Makes the database agree with the configured repositories. A repo keeps its id (and so its
 * packages) across restarts; changing the format of a repo that exists is refused.
 */
export async function syncRepos(db: Db, configured: RepoConfig[]): Promise<Repo[]> {
  const existing = new Map((await db.selectFrom('repos').selectAll().execute()).map((r) => [r.name, r]));
  const repos: Repo[] = [];
  for (const cfg of configured) {
    let row: RepoRow | undefined = existing.get(cfg.name);
    if (!row) {
      // Nodes starting together (or rolling out a new repo) may insert the same name at once: the first wins, and the
      // others take its row (checked below like one that existed: another node's larder.toml may give another format).
      await db
        .insertInto('repos')
        .values({ name: cfg.name, format: cfg.format, kind: cfg.kind, visibility: cfg.visibility, created_at: Date.now() })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      row = await db.selectFrom('repos').selectAll().where('name', '=', cfg.name).executeTakeFirstOrThrow();
    }
    checkFormat(cfg, row);
    if (row.kind !== cfg.kind || row.visibility !== cfg.visibility) {
      await db.updateTable('repos').set({ kind: cfg.kind, visibility: cfg.visibility }).where('id', '=', row.id).execute();
    }
    repos.push({ ...cfg, id: row.id });
  }
  return repos;
}

function checkFormat(cfg: RepoConfig, row: RepoRow): void {
  if (row.format !== cfg.format)
    fail(
      'CONFIG_INVALID',
      `repository "${cfg.name}" holds ${row.format} packages and cannot become a ${cfg.format} repository; give it another name`,
    );
}

/** Every repository the database knows, configured or not (for `larder repo list`). */
export async function listRepoRows(db: Db): Promise<RepoRow[]> {
  return db.selectFrom('repos').selectAll().orderBy('name').execute();
}
