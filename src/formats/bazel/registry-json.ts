import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';

export const REGISTRY_JSON = 'bazel_registry.json';

/** bazel_registry.json as BCR tooling writes it (indent 4, trailing newline): `{"mirrors": []}` is the BCR's own 22 bytes. */
export function registryJsonBytes(mirrors: string[]): Buffer {
  return Buffer.from(`${JSON.stringify({ mirrors }, null, 4)}\n`);
}

/**
 * Writes a hosted repo's bazel_registry.json once, when the repo is new. Lockfiles pin its
 * hash, so a later change of `mirrors` in larder.toml does not rewrite it.
 */
export async function ensureRegistryJson(registry: Registry, repo: Repo): Promise<void> {
  if (await registry.docs.get(repo.id, REGISTRY_JSON)) return;
  await inTransaction(registry, (uow) => registry.docs.put(uow, repo.id, REGISTRY_JSON, registryJsonBytes(repo.mirrors ?? [])));
}
