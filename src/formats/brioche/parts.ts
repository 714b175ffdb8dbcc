/**
 * Brioche's parts of the shared sources. Documents are tags (`tags/<project>/<tag>`, belonging to
 * their project); artifacts are cache objects by key, content-addressed (any member may answer).
 */
import type { SourceParts } from '../../registry/source-parts.js';
import { parseCacheKey, parseTagPath } from './keys.js';
import { briocheProxy } from './proxy.js';
import { briocheDb, projectTagged } from './store.js';

/** What Brioche supplies to hosted, proxy and group sources. */
export const briocheParts: SourceParts = {
  packageOfDoc: (path) => parseTagPath(path)?.project ?? null,
  packageOfArtifact: () => null,
  hosted: {
    async artifact(registry, repo, key) {
      if (!parseCacheKey(key)) return null;
      const row = await briocheDb(registry)
        .selectFrom('brioche_objects')
        .select(['sha256', 'size'])
        .where('repo_id', '=', repo.id)
        .where('key', '=', key)
        .executeTakeFirst();
      return row ? { sha256: row.sha256, size: Number(row.size) } : null;
    },
    hasPackage: (registry, repo, project) => projectTagged(registry.db, repo, project),
  },
  proxy: briocheProxy,
};
