/** Cargo's parts of the shared sources: index paths name crates, artifacts are `{crate}/{version}`. */
import type { Kysely } from 'kysely';
import type { Registry } from '../../registry/registry.js';
import type { SourceParts } from '../../registry/source-parts.js';
import type { Database } from '../../storage/schema.js';
import { crateNameFromIndexPath, indexPath, normCrateName } from './names.js';
import { cargoProxy } from './proxy.js';
import type { CargoTables } from './schema.js';

export { crateKey } from './names.js';

const db = (registry: Registry) => registry.db.withTables<CargoTables>() as unknown as Kysely<Database & CargoTables>;

/** What Cargo supplies to hosted, proxy and group sources. */
export const cargoParts: SourceParts = {
  packageOfDoc: (path) => crateNameFromIndexPath(path)?.toLowerCase() ?? null,
  packageOfArtifact: (key) => key.slice(0, key.indexOf('/')).toLowerCase() || null,
  packageDoc: (crate) => indexPath(crate),
  hosted: {
    async artifact(registry, repo, key) {
      const slash = key.indexOf('/');
      const row = await db(registry)
        .selectFrom('cargo_versions')
        .innerJoin('cargo_crates', 'cargo_crates.id', 'cargo_versions.crate_id')
        .select(['cargo_versions.cksum', 'cargo_versions.size'])
        .where('cargo_crates.repo_id', '=', repo.id)
        .where('cargo_crates.norm_name', '=', normCrateName(key.slice(0, slash)))
        .where('cargo_versions.vers', '=', key.slice(slash + 1))
        .executeTakeFirst();
      return row ? { sha256: row.cksum, size: Number(row.size) } : null;
    },
    async hasPackage(registry, repo, crate) {
      // crates.io's rule: names equal ignoring case and `-`/`_` are the same crate.
      const row = await db(registry)
        .selectFrom('cargo_crates')
        .select('id')
        .where('repo_id', '=', repo.id)
        .where('norm_name', '=', normCrateName(crate))
        .executeTakeFirst();
      return row !== undefined;
    },
  },
  proxy: cargoProxy,
};
