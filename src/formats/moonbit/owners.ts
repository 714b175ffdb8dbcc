import type { Kysely } from 'kysely';
import type { PackageRef } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Db, Trx } from '../../storage/db.js';
import type { Database } from '../../storage/schema.js';
import { indexPath } from './names.js';
import type { MoonbitTables } from './store.js';

/** Ownership keys a MoonBit module by its full name, `<user>/<name>` (case-sensitive, as its index path). */
export function moduleRef(repo: Repo, module: string): PackageRef {
  return { repo, id: module, display: module, label: `module ${module}` };
}

/** Whether the module has a version or an index file here (published or imported): then it is not new. */
export async function moduleExists(db: Db | Trx, repo: Repo, module: string): Promise<boolean> {
  const moon = db.withTables<MoonbitTables>() as unknown as Kysely<Database & MoonbitTables>;
  const row = await moon
    .selectFrom('moonbit_versions')
    .select('module')
    .where('repo_id', '=', repo.id)
    .where('module', '=', module)
    .limit(1)
    .executeTakeFirst();
  if (row) return true;
  const doc = await db
    .selectFrom('index_docs')
    .select('path')
    .where('repo_id', '=', repo.id)
    .where('path', '=', indexPath(module))
    .executeTakeFirst();
  return doc !== undefined;
}

/** The ref of a module this repo has, for the owners API; null when it has none by that name. */
export async function findModuleRef(registry: Registry, repo: Repo, module: string): Promise<PackageRef | null> {
  return (await moduleExists(registry.db, repo, module)) ? moduleRef(repo, module) : null;
}
