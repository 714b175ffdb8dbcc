import type { FormatPlugin } from '../../http/format-plugin.js';
import { juliaClientSetup } from './client-setup.js';
import { REGISTRIES_DOC } from './ids.js';
import { juliaParts } from './parts.js';
import { lazyMigrations } from '../../storage/db.js';
import { noteRegistryConflicts } from './registry-conflict-notes.js';
import { REGISTRIES_PATHS, REGISTRIES_PRESENTATION, TARBALL_PRESENTATION, tarballKey } from './presentation.js';

/**
 * Julia: hosted registries, proxies of a Pkg server, and groups of both, served by the Pkg server protocol. Routes,
 * verification and owners are loaded on first use.
 */
export const juliaFormat: FormatPlugin = {
  format: 'julia',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: lazyMigrations(
    [
      'julia_0001_registries',
      'julia_0003_registry_dependencies',
      'julia_0002_commits',
      'julia_0004_owners',
      'julia_0005_git_history',
      'julia_0006_search_entries',
      'julia_0007_yank_reasons',
      'julia_0008_registry_checks',
    ],
    async () => (await import('./migrations.js')).juliaMigrations,
  ),
  parts: juliaParts,
  routes: async (app, ctx) => (await import('./routes.js')).juliaRoutes(app, ctx),
  verify: async (registry, repo) => (await import('./verify.js')).verifyJuliaRepo(registry, repo),
  packageRef: async (registry, repo, name) => (await import('./owners.js')).findJuliaPackageRef(registry, repo, name),
  // The registry list under its three names; registry files travel in tarballs (artifacts), never as documents.
  staticPaths: (docPath) => (docPath === REGISTRIES_DOC ? ['registries', 'registries.eager', 'registries.conservative'] : []),
  clientSetup: juliaClientSetup,
  web: async () => (await import('./web.js')).juliaWeb,
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
