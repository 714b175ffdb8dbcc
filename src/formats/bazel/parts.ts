/** Bazel's parts of the shared sources: `modules/{m}/…` documents name modules; hosted archives are `archives/{m}/{v}/{file}`. */
import type { Kysely } from 'kysely';
import type { Registry } from '../../registry/registry.js';
import type { SourceParts } from '../../registry/source-parts.js';
import type { Database } from '../../storage/schema.js';
import { bazelGroupParts } from './group.js';
import { bazelProxyParts } from './proxy.js';
import type { BazelTables } from './schema.js';

const db = (registry: Registry) => registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;

/** The artifact key of a source archive Larder hosts. */
export function hostedArchiveKey(module: string, version: string, file: string): string {
  return `archives/${module}/${version}/${file}`;
}

/**
 * What Bazel supplies to hosted, proxy and group sources. Mirror keys (`mirror/{host}/{path}`, see
 * mirror.ts) name no module: a group asks each member for them.
 */
export const bazelParts: SourceParts = {
  packageOfDoc: (path) => (path.startsWith('modules/') ? path.split('/')[1] || null : null),
  packageOfArtifact: (key) => (key.startsWith('archives/') ? key.split('/')[1] || null : null),
  // Mirror keys name a URL, not a module version: archives fetched through the mirror are not counted.
  downloadOf: (key) => {
    const [kind, module, version] = key.split('/');
    return kind === 'archives' && module && version ? { package: module, version } : null;
  },
  proxy: bazelProxyParts,
  group: bazelGroupParts,
  packageDoc: (module) => `modules/${module}/metadata.json`,
  hosted: {
    async artifact(registry, repo, key) {
      const [kind, module, version, ...file] = key.split('/');
      if (kind !== 'archives' || !module || !version || file.length !== 1) return null;
      const row = await db(registry)
        .selectFrom('bazel_archives')
        .select(['sha256', 'size'])
        .where('repo_id', '=', repo.id)
        .where('module', '=', module)
        .where('version', '=', version)
        .where('file_name', '=', file[0]!)
        .executeTakeFirst();
      return row ? { sha256: row.sha256, size: Number(row.size) } : null;
    },
    async hasPackage(registry, repo, module) {
      const row = await db(registry)
        .selectFrom('bazel_versions')
        .select('module')
        .where('repo_id', '=', repo.id)
        .where('module', '=', module)
        .executeTakeFirst();
      return row !== undefined;
    },
  },
};
