/**
 * Julia's parts of the shared sources. Documents (`registries`, registry files) name no package;
 * artifacts are the three tarball kinds by tree hash: `registry/{uuid}/{hash}`, `package/{uuid}/{hash}`,
 * `artifact/{hash}` (the Pkg server paths without the leading slash).
 */
import type { SourceParts } from '../../registry/source-parts.js';
import { parseTarballKey } from './ids.js';
import { juliaGroup, juliaProxy } from './proxy.js';
import { juliaPackageExists } from './owners.js';
import { juliaDb } from './db.js';

/** What Julia supplies to hosted, proxy and group sources. */
export const juliaParts: SourceParts = {
  packageOfDoc: () => null,
  // A package tarball belongs to its package UUID: a UUID a hosted member holds is never taken from an upstream.
  packageOfArtifact: (key) => (key.startsWith('package/') ? (key.split('/')[1] ?? null) : null),
  // Package tarballs are named by tree hash; which version that is would take the registry's Versions.toml, so
  // downloads count per package (version ''). Registry and artifact tarballs are no package's download.
  downloadOf: (key) => {
    const t = parseTarballKey(key);
    return t?.kind === 'package' ? { package: t.uuid, version: '' } : null;
  },
  hosted: {
    async artifact(registry, repo, key) {
      const t = parseTarballKey(key);
      if (!t) return null;
      const row = await juliaDb(registry)
        .selectFrom('julia_tarballs')
        .select(['sha256', 'size'])
        .where('repo_id', '=', repo.id)
        .where('kind', '=', t.kind)
        .where('uuid', '=', t.uuid)
        .where('tree_hash', '=', t.hash)
        .executeTakeFirst();
      return row ? { sha256: row.sha256, size: Number(row.size) } : null;
    },
    hasPackage: (registry, repo, uuid) => juliaPackageExists(registry.db, repo, uuid),
  },
  proxy: juliaProxy,
  group: juliaGroup,
};
