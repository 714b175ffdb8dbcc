import type { Kysely } from 'kysely';
import type { PackageRef } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Db, Trx } from '../../storage/db.js';
import type { Database } from '../../storage/schema.js';
import type { BazelTables } from './schema.js';

/** Ownership keys a Bazel module by its name (module names are case-sensitive and unique per registry). */
export function moduleRef(repo: Repo, module: string): PackageRef {
  return { repo, id: module, display: module, label: `module ${module}` };
}

/** Whether the module has any version or a metadata.json here (published or imported): then it is not new. */
export async function moduleExists(db: Db | Trx, repo: Repo, module: string): Promise<boolean> {
  const bazel = db.withTables<BazelTables>() as unknown as Kysely<Database & BazelTables>;
  const version = await bazel
    .selectFrom('bazel_versions')
    .select('id')
    .where('repo_id', '=', repo.id)
    .where('module', '=', module)
    .executeTakeFirst();
  if (version) return true;
  const doc = await db
    .selectFrom('index_docs')
    .select('path')
    .where('repo_id', '=', repo.id)
    .where('path', '=', `modules/${module}/metadata.json`)
    .executeTakeFirst();
  return doc !== undefined;
}

/** The ref of a module this repo has, for the owners API; null when it has none by that name. */
export async function findModuleRef(registry: Registry, repo: Repo, module: string): Promise<PackageRef | null> {
  return (await moduleExists(registry.db, repo, module)) ? moduleRef(repo, module) : null;
}
