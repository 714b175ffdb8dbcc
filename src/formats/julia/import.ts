import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import {
  lockJuliaRepo,
  readRegistryFiles,
  recordCommit,
  recordTarball,
  registryIdentity,
  rewriteRegistries,
  verifiedTarball,
  writeRegistryFiles,
} from './store.js';
import { registryIndex, type RegistryReader } from './package-info.js';
import { updateJuliaSearchEntries } from './search.js';
import { disposeTree, treeFileData } from './spool.js';
import { readDirTree, type FileTree } from './tree-hash.js';

export interface JuliaImportSummary {
  name: string;
  uuid: string;
  treeHash: string;
  files: number;
  /** False when the registry was already at this tree. */
  changed: boolean;
}

/**
 * Loads a registry's current tree (a clone of it; history is not needed) into a hosted repo:
 * its files, its canonical tarball (verified to hash to the tree), and its `/registries` line.
 * The tree hash equals `git write-tree` of the source, so clients see the same registry.
 */
export async function importJuliaRegistry(
  registry: Registry,
  repo: Repo,
  dir: string,
  progress?: (done: number, total: number) => void,
): Promise<JuliaImportSummary> {
  if (!fs.existsSync(path.join(dir, 'Registry.toml')))
    fail('NOT_FOUND', `${dir} has no Registry.toml: is it the root of a Julia registry?`);
  const tree = await readDirTree(dir);
  try {
    for (const [rel, f] of tree) {
      if (f.kind === 'symlink') fail('ARCHIVE_INVALID', `${rel} is a symbolic link; a registry holds plain files`);
    }
    const { name, uuid } = await registryIdentity(tree);
    const tarball = await verifiedTarball(registry, tree);
    try {
      const changed = await inTransaction(registry, async (uow) => {
        const trx = uow.trx.withTables<import('./schema.js').JuliaTables>();
        await lockJuliaRepo(registry, uow, repo);
        const current = await trx
          .selectFrom('julia_registries')
          .selectAll()
          .where('repo_id', '=', repo.id)
          .where('uuid', '=', uuid)
          .executeTakeFirst();
        if (current?.tree_hash === tarball.treeHash) return false;
        const previous = await readRegistryFiles(uow, repo, uuid);
        await writeRegistryFiles(registry, uow, repo, uuid, tree, previous, progress);
        if (current)
          await trx
            .updateTable('julia_registries')
            .set({ name, tree_hash: tarball.treeHash, updated_at: Date.now() })
            .where('id', '=', current.id)
            .execute();
        else
          await trx
            .insertInto('julia_registries')
            .values({ repo_id: repo.id, uuid, name, tree_hash: tarball.treeHash, updated_at: Date.now(), depends_on: '[]' })
            .execute();
        await recordTarball(registry, uow, repo, 'registry', uuid, tarball);
        await rewriteRegistries(registry, uow, repo);
        await recordCommit(uow, repo, uuid, tarball.treeHash, `Import registry ${name}`);
        const reader = await treeReader(tree);
        if (reader) await updateJuliaSearchEntries(registry, uow, repo, await changedPackages(reader, previous), new Map([[uuid, reader]]));
        return true;
      });
      return { name, uuid, treeHash: tarball.treeHash, files: tree.size, changed };
    } finally {
      await tarball.staged.discard(); // nothing after a commit; an unchanged or failed import leaves no staged blob
    }
  } finally {
    await disposeTree(tree);
  }
}

/** A registry tree being imported, read as search reads registries. */
async function treeReader(tree: FileTree): Promise<RegistryReader | null> {
  const file = async (rel: string) => {
    const f = tree.get(rel);
    return f && f.kind !== 'symlink' ? treeFileData(f) : null;
  };
  const index = registryIndex(await file('Registry.toml'));
  return index && { ...index, file };
}

/** The packages an import adds, removes or changes (any file in their directory): only their search entries are rewritten. */
async function changedPackages(next: RegistryReader, previous: Map<string, Buffer>): Promise<string[]> {
  const before = registryIndex(previous.get('Registry.toml') ?? null);
  const out: string[] = [];
  for (const uuid of new Set([...next.packages.keys(), ...(before?.packages.keys() ?? [])])) {
    const now = next.packages.get(uuid);
    const then = before?.packages.get(uuid);
    if (!now || !then || now.name !== then.name || now.path !== then.path) {
      out.push(uuid);
      continue;
    }
    for (const file of ['Package.toml', 'Versions.toml', 'Deps.toml', 'Compat.toml', 'WeakDeps.toml', 'WeakCompat.toml']) {
      const [a, b] = [await next.file(`${now.path}/${file}`), previous.get(`${now.path}/${file}`) ?? null];
      if (a === null ? b !== null : b === null || !a.equals(b)) {
        out.push(uuid);
        break;
      }
    }
  }
  return out;
}
