/**
 * MoonBit's parts of the shared sources. Documents are the index's files by git path
 * (`user/<module>.index` belongs to its module; `yanked.json` and `symbols.zip` to the repo);
 * artifacts are zips by `<module>/<version>`.
 */
import type { SourceParts } from '../../registry/source-parts.js';
import { indexPath, moduleOfIndexPath, parseArchiveKey } from './names.js';
import { moonbitProxy } from './proxy.js';
import { moonbitDb } from './store.js';

/** What MoonBit supplies to hosted, proxy and group sources. */
export const moonbitParts: SourceParts = {
  packageOfDoc: moduleOfIndexPath,
  packageOfArtifact: (key) => parseArchiveKey(key)?.module ?? null,
  packageDoc: indexPath,
  hosted: {
    async artifact(registry, repo, key) {
      const k = parseArchiveKey(key);
      if (!k) return null;
      const row = await moonbitDb(registry)
        .selectFrom('moonbit_versions')
        .select(['checksum', 'size'])
        .where('repo_id', '=', repo.id)
        .where('module', '=', k.module)
        .where('version', '=', k.version)
        .executeTakeFirst();
      // A version imported without its zip has no size: nothing to serve.
      return row && row.size !== null ? { sha256: row.checksum, size: Number(row.size) } : null;
    },
    async hasPackage(registry, repo, module) {
      const row = await moonbitDb(registry)
        .selectFrom('moonbit_versions')
        .select('module')
        .where('repo_id', '=', repo.id)
        .where('module', '=', module)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
  },
  proxy: moonbitProxy,
};
