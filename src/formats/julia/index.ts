import type { FormatPlugin } from '../../http/format-plugin.js';
import { juliaClientSetup } from './client-setup.js';
import { REGISTRIES_DOC } from './ids.js';
import { juliaParts } from './parts.js';
import { juliaMigrations } from './migrations.js';
import { findJuliaPackageRef } from './owners.js';
import { noteRegistryConflicts } from './registry-conflicts.js';
import { juliaRoutes, REGISTRIES_PATHS, REGISTRIES_PRESENTATION, TARBALL_PRESENTATION, tarballKey } from './routes.js';
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
  // `/registries` is read on every Pkg update, by every client: answered from the cache like Cargo's index files.
  fastIndex({ registry, repo, source }) {
    if (repo.visibility !== 'public') return null;
    return {
      source,
      repo: repo.name,
      format: 'julia',
      prefix: `/${repo.name}/`,
      docPath: (rest) => (REGISTRIES_PATHS.has(rest) ? REGISTRIES_DOC : null),
      // As the route does: registries listed together are checked once per listing (a map lookup after that).
      seen: (doc) => noteRegistryConflicts(registry, repo, source, doc),
      contentType: REGISTRIES_PRESENTATION.contentType,
      cacheControl: REGISTRIES_PRESENTATION.cacheControl,
    };
  },
  // Registry, package and artifact tarballs are content-addressed: small ones are answered from memory.
  fastArtifact({ repo, source }) {
    if (repo.visibility !== 'public') return null;
    return { source, repo: repo.name, format: 'julia', prefix: `/${repo.name}/`, artifactKey: tarballKey, ...TARBALL_PRESENTATION };
  },
};
