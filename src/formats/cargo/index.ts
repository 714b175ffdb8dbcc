import type { FormatPlugin } from '../../http/format-plugin.js';
import { cargoParts } from './parts.js';
import { cargoClientSnippet, cargoGitIndexLines } from './client-setup.js';
import { lazyMigrations } from '../../storage/db.js';
import { crateNameFromIndexPath } from './names.js';
import { INDEX_CACHE_CONTROL, INDEX_CONTENT_TYPE } from './presentation.js';
import { cargoUrls } from './urls.js';

/**
 * Cargo: a sparse index, `.crate` downloads and the crates.io Web API. Routes, verification and owners are loaded on
 * first use (`larder serve` listens before it loads them: cold start, issue 14).
 */
export const cargoFormat: FormatPlugin = {
  format: 'cargo',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: lazyMigrations(
    ['cargo_0001_crates', 'cargo_0002_shared_owners', 'cargo_0003_search_entries', 'cargo_0004_dependencies_readmes'],
    async () => (await import('./migrations.js')).cargoMigrations,
  ),
  parts: cargoParts,
  routes: async (app, ctx) => (await import('./routes.js')).cargoRoutes(app, ctx),
  verify: async (registry, repo) => (await import('./verify.js')).verifyCargoRepo(registry, repo),
  web: async () => (await import('./web.js')).cargoWeb,
  fastIndex({ repo, source }) {
    if (repo.visibility !== 'public') return null;
    return {
      source,
      repo: repo.name,
      format: 'cargo',
      prefix: `/${repo.name}/index/`,
      docPath: (rest) => (crateNameFromIndexPath(rest) ? rest : null),
      contentType: INDEX_CONTENT_TYPE,
      cacheControl: INDEX_CACHE_CONTROL,
    };
  },
  // config.json is not a document (its URLs follow the request): a static origin leaves it to Larder.
  staticPaths: (docPath) => (crateNameFromIndexPath(docPath) ? [`index/${docPath}`] : []),
  packageRef: async (registry, repo, name) => new (await import('./service.js')).CargoService(registry, repo).findCrateRef(name),
  clientSetup(repo, baseUrl, opts) {
    const urls = cargoUrls(baseUrl, repo.name);
    const snippet = [cargoClientSnippet(repo, urls, opts.caCertPath), ...cargoGitIndexLines(repo, urls)].join('\n');
    return { url: urls.sparseIndex, snippet };
  },
};
