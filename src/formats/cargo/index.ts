import type { FormatPlugin } from '../../http/format-plugin.js';
import { cargoParts } from './parts.js';
import { cargoClientSnippet, cargoGitIndexLines } from './client-setup.js';
import { cargoMigrations } from './migrations.js';
import { crateNameFromIndexPath } from './names.js';
import { cargoRoutes, INDEX_CACHE_CONTROL, INDEX_CONTENT_TYPE } from './routes.js';
import { CargoService } from './service.js';
import { cargoUrls } from './urls.js';
import { verifyCargoRepo } from './verify.js';
import { cargoWeb } from './web.js';

/** Cargo: a sparse index, `.crate` downloads and the crates.io Web API. */
export const cargoFormat: FormatPlugin = {
  format: 'cargo',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: cargoMigrations,
  parts: cargoParts,
  routes: cargoRoutes,
  verify: verifyCargoRepo,
  web: cargoWeb,
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
  packageRef: (registry, repo, name) => new CargoService(registry, repo).findCrateRef(name),
  clientSetup(repo, baseUrl, opts) {
    const urls = cargoUrls(baseUrl, repo.name);
    const snippet = [cargoClientSnippet(repo, urls, opts.caCertPath), ...cargoGitIndexLines(repo, urls)].join('\n');
    return { url: urls.sparseIndex, snippet };
  },
};
