/**
 * Pkg's dependency-confusion check on the registries one server lists together (a repo's own
 * registries, an upstream's, a group's members'): a package (same name and UUID) held by two of them
 * is safe only when each one's Package.toml lists the other in `trusted_registries`
 * (protocols/julia.md §7.2). Larder serves them anyway, as Pkg installs them, but says so: a warning
 * in the log and `larder_registry_conflicts_total`.
 */
import { parse as parseToml } from 'smol-toml';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Source, SourceDoc } from '../../registry/source.js';
import { juliaDb } from './db.js';
import { maxTarSize, registryLines } from './proxy.js';
import { trustedRegistriesOf } from './registry-toml.js';
import { readTarballFiles } from './upstream-tarball.js';

type Toml = Record<string, unknown>;
const tomlOf = (b: Buffer | undefined): Toml => {
  try {
    return b ? (parseToml(b.toString('utf8')) as Toml) : {};
  } catch {
    return {};
  }
};

/** One conflict: a package two registries hold without trusting each other. */
export interface RegistryConflict {
  uuid: string;
  name: string;
  registries: [string, string];
}

/**
 * The conflicts of a repo's `/registries` listing, checked once per listing for all processes and nodes: the result
 * is stored by the listing's ETag, since a check reads whole registry tarballs (~0.7 s of CPU for 10,000 packages)
 * and every process of every node would otherwise make it again at each start.
 */
export async function registryConflictsOf(registry: Registry, repo: Repo, source: Source, listing: SourceDoc): Promise<RegistryConflict[]> {
  const listed = registryLines(listing.body);
  // One registry cannot conflict with itself: nothing to read, nothing to store.
  if (listed.length < 2) return [];
  const db = juliaDb(registry);
  const stored = await db
    .selectFrom('julia_registry_checks')
    .select(['registries_etag', 'conflicts'])
    .where('repo_id', '=', repo.id)
    .executeTakeFirst();
  if (stored?.registries_etag === listing.etag) return JSON.parse(stored.conflicts) as RegistryConflict[];
  const { conflicts, complete } = await findRegistryConflicts(registry, source, listed);
  // A registry whose tarball could not be found was left out: checked again with the next listing.
  if (complete) {
    const row = { registries_etag: listing.etag, conflicts: JSON.stringify(conflicts) };
    await db
      .insertInto('julia_registry_checks')
      .values({ repo_id: repo.id, ...row })
      .onConflict((oc) => oc.column('repo_id').doUpdateSet(row))
      .execute();
  }
  return conflicts;
}

/**
 * The packages (same name and UUID) that two of the listed registries hold without mutual trust, and whether every
 * listed registry was read. Reads each registry tarball through `source` (Registry.toml first, then only the shared
 * packages' Package.toml), so memory stays bounded for registries the size of General.
 */
async function findRegistryConflicts(
  registry: Registry,
  source: Source,
  listed: Array<{ uuid: string; hash: string }>,
): Promise<{ conflicts: RegistryConflict[]; complete: boolean }> {
  let complete = true;
  const maxTar = maxTarSize(registry, 'registry');
  const packages = new Map<string, Map<string, { name: string; path: string }>>();
  const keys = new Map<string, string>();
  for (const { uuid, hash } of listed) {
    const key = `registry/${uuid}/${hash}`;
    const tarball = await source.artifact(key);
    if (!tarball) {
      complete = false;
      continue;
    }
    keys.set(uuid, key);
    const files = await readTarballFiles(tarball.blob.stream(), (p) => p === 'Registry.toml', maxTar);
    const held = new Map<string, { name: string; path: string }>();
    for (const [u, p] of Object.entries((tomlOf(files.get('Registry.toml')).packages ?? {}) as Record<string, Toml>))
      if (typeof p.name === 'string' && typeof p.path === 'string') held.set(u, { name: p.name, path: p.path });
    packages.set(uuid, held);
  }
  // (package, registry) pairs to read Package.toml for: packages that more than one registry holds under one name.
  const shared = new Map<string, string[]>();
  const regs = [...packages.keys()];
  for (const [reg, held] of packages) {
    for (const [pkg, p] of held) {
      const holders = regs.filter((r) => packages.get(r)!.get(pkg)?.name === p.name);
      if (holders.length > 1 && holders[0] === reg) shared.set(pkg, holders);
    }
  }
  if (shared.size === 0) return { conflicts: [], complete };
  const trusted = new Map<string, Set<string>>(); // `${registry}/${package}` → trusted registry UUIDs
  for (const reg of regs) {
    const paths = new Map<string, string>();
    for (const [pkg, holders] of shared) if (holders.includes(reg)) paths.set(`${packages.get(reg)!.get(pkg)!.path}/Package.toml`, pkg);
    if (paths.size === 0) continue;
    const tarball = await source.artifact(keys.get(reg)!);
    if (!tarball) {
      complete = false;
      continue;
    }
    const files = await readTarballFiles(tarball.blob.stream(), (p) => paths.has(p), maxTar);
    for (const [p, pkg] of paths) trusted.set(`${reg}/${pkg}`, new Set(trustedRegistriesOf(tomlOf(files.get(p)))));
  }
  const conflicts: RegistryConflict[] = [];
  for (const [pkg, holders] of shared) {
    for (let i = 0; i < holders.length; i++) {
      for (let j = i + 1; j < holders.length; j++) {
        const [a, b] = [holders[i]!, holders[j]!];
        const mutual = trusted.get(`${a}/${pkg}`)?.has(b) && trusted.get(`${b}/${pkg}`)?.has(a);
        if (!mutual) conflicts.push({ uuid: pkg, name: packages.get(a)!.get(pkg)!.name, registries: [a, b] });
      }
    }
  }
  return { conflicts, complete };
}
