/**
 * A Bazel module's search entry (registry/search): the module name is its id and display name, the latest
 * version is the newest one not yanked, the description is made from metadata.json (which has none of its own),
 * and the dependencies are the `bazel_dep` names of the latest MODULE.bazel. Written inside every transaction
 * that changes metadata.json: publish, yank, unyank, metadata edits and imports.
 */
import { LarderError } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { removeSearchEntries, upsertSearchEntries, type SearchEntry } from '../../registry/search/index.js';
import type { ProxySearchEntry } from '../../registry/source-parts.js';
import type { UnitOfWork } from '../../registry/tx.js';
import { readModuleFile } from './module-file.js';
import { describeModule, latestInstallable, readModuleSummary } from './module-summary.js';
import { classifyRegistryPath } from './paths.js';

/** Where a module's metadata.json lives in a registry. */
export const metadataPath = (module: string): string => `modules/${module}/metadata.json`;

/** Where one version's MODULE.bazel lives in a registry. */
export const moduleFilePath = (module: string, version: string): string => `modules/${module}/${version}/MODULE.bazel`;

/** Whether a name can be a module of a registry (one path segment, as loose as a mirror of the BCR must be). */
export const isModuleSegment = (module: string): boolean => classifyRegistryPath(metadataPath(module))?.kind === 'metadata';

/** Whether a string can be a version directory of a module (one path segment). */
export function isVersionSegment(module: string, version: string): boolean {
  const file = classifyRegistryPath(moduleFilePath(module, version));
  return file?.kind === 'version-file' && file.version === version && file.name === 'MODULE.bazel';
}

/**
 * What metadata.json alone says for search (no dependencies: they are in MODULE.bazel), or null when it is not
 * readable. `latestVersion` is null when every version is yanked: then nothing is installable and the entry goes.
 */
export function metadataSearchEntry(module: string, metadata: Buffer): ProxySearchEntry | null {
  const summary = readModuleSummary(metadata);
  if (!summary) return null;
  return { package: module, name: module, description: describeModule(summary), keywords: [], latestVersion: latestInstallable(summary) };
}

/** The modules a MODULE.bazel depends on as a dependency of others (dev dependencies are only resolved in the root module). */
export function runtimeDependencies(moduleFile: Buffer): string[] {
  try {
    return [
      ...new Set(
        readModuleFile(moduleFile.toString('utf8'))
          .deps.filter((d) => !d.devDependency)
          .map((d) => d.name),
      ),
    ];
  } catch (err) {
    // A MODULE.bazel this reader cannot follow is still served (Bazel evaluates it itself); it just names no dependencies here.
    if (err instanceof LarderError) return [];
    throw err;
  }
}

/**
 * A module's full entry from its documents, read through `read` (a transaction, a migration, a source), or null
 * when nothing is installable (no readable metadata.json, every version yanked).
 */
export async function moduleSearchEntry(module: string, read: (path: string) => Promise<Buffer | null>): Promise<ProxySearchEntry | null> {
  if (!isModuleSegment(module)) return null;
  const metadata = await read(metadataPath(module));
  const entry = metadata ? metadataSearchEntry(module, metadata) : null;
  if (!entry?.latestVersion) return null;
  const moduleFile = isVersionSegment(module, entry.latestVersion) ? await read(moduleFilePath(module, entry.latestVersion)) : null;
  return { ...entry, dependencies: moduleFile ? runtimeDependencies(moduleFile) : [] };
}

/**
 * Brings a module's search entry in line with its documents as `uow` wrote them; removes it when nothing is installable.
 * `held` gives documents the caller has in memory (an import's files) with the bytes `uow` wrote; others are read in `uow`.
 */
export async function writeModuleSearchEntry(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  module: string,
  held?: (path: string) => Buffer | undefined,
): Promise<void> {
  await writeModuleSearchEntries(registry, uow, repo, [module], held);
}

/**
 * `writeModuleSearchEntry` for many modules in one transaction (an import's batch), written in a few statements.
 * `held` gives documents the caller has in memory, as for one module.
 */
export async function writeModuleSearchEntries(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  modules: Iterable<string>,
  held?: (path: string) => Buffer | undefined,
): Promise<void> {
  const entries: SearchEntry[] = [];
  const gone: Array<{ repoId: number; package: string }> = [];
  for (const module of modules) {
    const entry = await moduleSearchEntry(module, async (path) => held?.(path) ?? registry.docs.read(uow, repo.id, path));
    if (entry) entries.push({ ...entry, repoId: repo.id, format: 'bazel' });
    else gone.push({ repoId: repo.id, package: module });
  }
  await removeSearchEntries(uow.trx, registry.dialect, gone);
  await upsertSearchEntries(uow.trx, registry.dialect, entries);
}
