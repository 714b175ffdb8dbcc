import type { FormatPlugin } from '../../http/format-plugin.js';
import { juliaClientSetup } from './client-setup.js';
import { REGISTRIES_DOC } from './ids.js';
import { juliaParts } from './parts.js';
import { juliaMigrations } from './migrations.js';
import { findJuliaPackageRef } from './owners.js';
import { juliaRoutes } from './routes.js';
import { verifyJuliaRepo } from './verify.js';
import { juliaWeb } from './web.js';

/** Julia: hosted registries, proxies of a Pkg server, and groups of both, served by the Pkg server protocol. */
export const juliaFormat: FormatPlugin = {
  format: 'julia',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: juliaMigrations,
  parts: juliaParts,
  routes: juliaRoutes,
  verify: verifyJuliaRepo,
  packageRef: findJuliaPackageRef,
  // The registry list under its three names; registry files travel in tarballs (artifacts), never as documents.
  staticPaths: (docPath) => (docPath === REGISTRIES_DOC ? ['registries', 'registries.eager', 'registries.conservative'] : []),
  clientSetup: juliaClientSetup,
  web: juliaWeb,
};
