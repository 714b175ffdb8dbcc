import type { FormatPlugin } from '../../http/format-plugin.js';
import { moonbitClientSetup } from './client-setup.js';
import { lazyMigrations } from '../../storage/db.js';
import { moonbitParts } from './parts.js';
import { indexViewPath } from './names.js';

/**
 * MoonBit (mooncakes): hosted registries, proxies of mooncakes.io, and groups of both, for an unmodified `moon`. Routes,
 * verification and owners are loaded on first use.
 */
export const moonbitFormat: FormatPlugin = {
  format: 'moonbit',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: lazyMigrations(
    ['moonbit_0001_versions', 'moonbit_0002_yanked_at', 'moonbit_0003_search_entries'],
    async () => (await import('./migrations.js')).moonbitMigrations,
  ),
  parts: moonbitParts,
  routes: async (app, ctx) => (await import('./routes.js')).moonbitRoutes(app, ctx),
  verify: async (registry, repo) => (await import('./verify.js')).verifyMoonbitRepo(registry, repo),
  packageRef: async (registry, repo, name) => (await import('./owners.js')).findModuleRef(registry, repo, name),
  // The raw index view and symbols.zip; the git index itself stays with Larder.
  staticPaths: (docPath) => (docPath === 'symbols.zip' ? ['symbols.zip'] : indexViewPath(docPath) ? [`index/${docPath}`] : []),
  clientSetup: moonbitClientSetup,
  web: async () => (await import('./web.js')).moonbitWeb,
};
