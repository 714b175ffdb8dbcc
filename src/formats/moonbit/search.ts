/**
 * What MoonBit gives the shared search service (registry/search): one entry per module, read from its index
 * file the way moon reads it. `latestVersion` is the highest SemVer that is not yanked; description and
 * keywords come from that version's moon.mod.json (the index line), dependencies are its `deps` keys.
 */
import { removeSearchEntry, upsertSearchEntry } from '../../registry/search/index.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { ProxySearchEntry } from '../../registry/source-parts.js';
import type { UnitOfWork } from '../../registry/tx.js';
import { keywordsOf, latestInstallable, parseYanked, readModule } from './module-versions.js';
import { indexPath, moduleOfIndexPath, YANKED_PATH } from './names.js';

/** A module's search entry from its index file and its yanked versions (`<module>@<version>` → reason); null when nothing is installable. */
export function moduleSearchEntry(module: string, body: Uint8Array, yanked: ReadonlyMap<string, string | null>): ProxySearchEntry | null {
  const m = readModule(module, body, yanked);
  const latest = m && latestInstallable(m);
  if (!latest) return null;
  const { line } = latest;
  const description = typeof line.description === 'string' && line.description.trim() !== '' ? line.description : null;
  const deps = line.deps && typeof line.deps === 'object' && !Array.isArray(line.deps) ? Object.keys(line.deps) : [];
  return { package: module, name: module, description, keywords: keywordsOf(line), latestVersion: latest.version, dependencies: deps };
}

/** ProxyParts.searchEntry: a fetched `user/<module>.index` file (upstream yanks are not in it); null for any other path. */
export function proxySearchEntry(path: string, body: Buffer): ProxySearchEntry | null {
  const module = moduleOfIndexPath(path);
  return module ? moduleSearchEntry(module, body, new Map()) : null;
}

/** The yanked versions of a repo as its `yanked.json` says, read inside the caller's transaction. */
export async function yankedIn(uow: UnitOfWork, registry: Registry, repo: Repo): Promise<Map<string, string | null>> {
  return parseYanked((await registry.docs.read(uow, repo.id, YANKED_PATH)) ?? undefined);
}

/**
 * Brings a module's search entry in line with its index file and the repo's `yanked.json` (the documents the
 * package page reads too), inside the transaction that changed either: removed when no version is left to
 * install. `yanked` saves re-reading yanked.json when many modules change at once.
 */
export async function updateSearchEntry(
  uow: UnitOfWork,
  registry: Registry,
  repo: Repo,
  module: string,
  yanked?: ReadonlyMap<string, string | null>,
): Promise<void> {
  const body = await registry.docs.read(uow, repo.id, indexPath(module));
  const entry = body ? moduleSearchEntry(module, body, yanked ?? (await yankedIn(uow, registry, repo))) : null;
  const ref = { repoId: repo.id, package: module };
  if (!entry) return removeSearchEntry(uow.trx, registry.dialect, ref);
  await upsertSearchEntry(uow.trx, registry.dialect, { ...entry, ...ref, format: 'moonbit' });
}
