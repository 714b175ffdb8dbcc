import { parse as parseToml } from 'smol-toml';
import { fail } from '../../core/errors.js';
import type { PackageRef } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Db, Trx } from '../../storage/db.js';
import { registryDocPath, UUID } from './ids.js';
import { juliaDb } from './db.js';
import type { JuliaTables } from './schema.js';

/**
 * Ownership keys a Julia package by its UUID, not its name: a repo may hold several registries,
 * names are unique only within one, and a UUID is the package's identity everywhere in Pkg.
 */
export function juliaPackageRef(repo: Repo, uuid: string, name: string): PackageRef {
  return { repo, id: uuid, display: name, label: `package ${name} (${uuid})` };
}

/** Whether any registry of the repo has registered this package UUID (then it is not new). */
export async function juliaPackageExists(db: Db | Trx, repo: Repo, uuid: string): Promise<boolean> {
  const row = await db
    .withTables<JuliaTables>()
    .selectFrom('julia_tarballs')
    .select('uuid')
    .where('repo_id', '=', repo.id)
    .where('kind', '=', 'package')
    .where('uuid', '=', uuid)
    .executeTakeFirst();
  return row !== undefined;
}

/** Every package of every registry in the repo: UUID → name. */
async function packagesOf(registry: Registry, repo: Repo): Promise<Array<{ uuid: string; name: string; registry: string }>> {
  const regs = await juliaDb(registry).selectFrom('julia_registries').select('uuid').where('repo_id', '=', repo.id).execute();
  const out: Array<{ uuid: string; name: string; registry: string }> = [];
  for (const reg of regs) out.push(...(await packagesIn(registry, repo, reg.uuid)).map((p) => ({ ...p, registry: reg.uuid })));
  return out;
}

/** The packages listed in one registry's Registry.toml. */
export async function packagesIn(registry: Registry, repo: Repo, registryUuid: string): Promise<Array<{ uuid: string; name: string }>> {
  const doc = await registry.docs.get(repo.id, registryDocPath(registryUuid, 'Registry.toml'));
  if (!doc) return [];
  const toml = parseToml(doc.body.toString('utf8')) as { packages?: Record<string, { name: string }> };
  return Object.entries(toml.packages ?? {}).map(([uuid, p]) => ({ uuid, name: p.name }));
}

/**
 * The ref of a package named by UUID or by name (a name must be unambiguous across the repo's
 * registries); null when no registry here has it.
 */
export async function findJuliaPackageRef(registry: Registry, repo: Repo, nameOrUuid: string): Promise<PackageRef | null> {
  const all = await packagesOf(registry, repo);
  const byUuid = UUID.test(nameOrUuid) ? all.find((p) => p.uuid === nameOrUuid) : undefined;
  if (byUuid) return juliaPackageRef(repo, byUuid.uuid, byUuid.name);
  const uuids = [...new Set(all.filter((p) => p.name === nameOrUuid).map((p) => p.uuid))];
  if (uuids.length > 1)
    fail('NAME_COLLISION', `more than one package is called ${nameOrUuid} in ${repo.name} (${uuids.join(', ')}); name it by its UUID`);
  if (uuids.length === 0) return null;
  return juliaPackageRef(repo, uuids[0], nameOrUuid);
}
