/**
 * Julia's search entries (registry/search), kept current inside the transactions that change a hosted
 * registry: registration, yank/unyank and import. The entry of a package UUID is read from every registry
 * of the repo that holds it (choosePackage), so a repo serving two registries with one package stays right.
 */
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { removeSearchEntry, upsertSearchEntry } from '../../registry/search/index.js';
import type { ProxySearchEntry } from '../../registry/source-parts.js';
import type { UnitOfWork } from '../../registry/tx.js';
import { registryDocPath } from './ids.js';
import { packageAcross, registryIndex, searchFieldsOf, type RegistryReader } from './package-info.js';
import type { JuliaTables } from './schema.js';

/**
 * The registries of a hosted repo as the transaction sees them; `overrides` stands in for registries whose
 * files the caller holds already (the tree being imported or registered), by registry UUID.
 */
export async function hostedRegistries(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  overrides: ReadonlyMap<string, RegistryReader> = new Map(),
): Promise<RegistryReader[]> {
  const rows = await uow.trx
    .withTables<JuliaTables>()
    .selectFrom('julia_registries')
    .select('uuid')
    .where('repo_id', '=', repo.id)
    .orderBy('uuid')
    .execute();
  const out: RegistryReader[] = [];
  for (const { uuid } of rows) {
    const given = overrides.get(uuid);
    if (given) {
      out.push(given);
      continue;
    }
    const file = (rel: string) => registry.docs.read(uow, repo.id, registryDocPath(uuid, rel));
    const index = registryIndex(await file('Registry.toml'));
    if (index) out.push({ ...index, file });
  }
  return out;
}

/**
 * Records the search entries of these package UUIDs as the repo's registries now hold them, inside `uow`;
 * a package without an installable version (or no longer listed) loses its entry.
 */
export async function updateJuliaSearchEntries(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  uuids: Iterable<string>,
  overrides?: ReadonlyMap<string, RegistryReader>,
): Promise<void> {
  const registries = await hostedRegistries(registry, uow, repo, overrides);
  const now = Date.now();
  for (const uuid of new Set(uuids)) {
    const pkg = await packageAcross(registries, uuid);
    const fields = pkg && searchFieldsOf(pkg);
    if (fields) await upsertSearchEntry(uow.trx, registry.dialect, { repoId: repo.id, format: 'julia', updatedAt: now, ...fields });
    else await removeSearchEntry(uow.trx, registry.dialect, { repoId: repo.id, package: uuid });
  }
}

/**
 * The search entries of every package a registry holds (one registry tarball from an upstream describes
 * thousands): what a proxy would index once it holds that registry. Packages with nothing to install are left out.
 */
export async function registrySearchEntries(reader: RegistryReader): Promise<ProxySearchEntry[]> {
  const out: ProxySearchEntry[] = [];
  for (const uuid of reader.packages.keys()) {
    const pkg = await packageAcross([reader], uuid);
    const fields = pkg && searchFieldsOf(pkg);
    if (fields) out.push(fields);
  }
  return out;
}
