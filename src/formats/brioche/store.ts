/** Brioche's tables as Kysely sees them. */
import type { Generated } from 'kysely';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Db, Trx } from '../../storage/db.js';

export interface BriocheObjectsTable {
  repo_id: number;
  key: string;
  sha256: string;
  size: number;
  created_at: number;
  created_by: number | null;
}

export interface BriocheTagsTable {
  id: Generated<number>;
  repo_id: number;
  project: string;
  tag: string;
  project_hash: string;
  previous_hash: string | null;
  current: number;
  set_at: number;
  set_by: number | null;
}

export interface BriocheSettingsTable {
  repo_id: number;
  password_hash: string | null;
  updated_at: number;
}

export type BriocheTables = {
  brioche_objects: BriocheObjectsTable;
  brioche_tags: BriocheTagsTable;
  brioche_settings: BriocheSettingsTable;
};

/** The database with Brioche's tables. */
export function briocheDb(registry: Registry) {
  return registry.db.withTables<BriocheTables>();
}

/** Whether a repo has ever tagged a project (its name is then taken here: owners, the group's hosted-first rule). */
export async function projectTagged(db: Db | Trx, repo: Repo, project: string): Promise<boolean> {
  const row = await db
    .withTables<BriocheTables>()
    .selectFrom('brioche_tags')
    .select('id')
    .where('repo_id', '=', repo.id)
    .where('project', '=', project)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
