import type { FormatPlugin } from '../../http/format-plugin.js';
import { moonbitClientSetup } from './client-setup.js';
import { moonbitMigrations } from './migrations.js';
import { moonbitParts } from './parts.js';
import { findModuleRef } from './owners.js';
import { indexViewPath } from './read-routes.js';
import { moonbitRoutes } from './routes.js';
import { verifyMoonbitRepo } from './verify.js';
import { moonbitWeb } from './web.js';

/** MoonBit (mooncakes): hosted registries, proxies of mooncakes.io, and groups of both, for an unmodified `moon`. */
export const moonbitFormat: FormatPlugin = {
  format: 'moonbit',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: moonbitMigrations,
  parts: moonbitParts,
  routes: moonbitRoutes,
  verify: verifyMoonbitRepo,
  packageRef: findModuleRef,
  // The raw index view and symbols.zip; the git index itself stays with Larder.
  staticPaths: (docPath) => (docPath === 'symbols.zip' ? ['symbols.zip'] : indexViewPath(docPath) ? [`index/${docPath}`] : []),
  clientSetup: moonbitClientSetup,
  web: moonbitWeb,
};
