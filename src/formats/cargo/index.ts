import type { FormatPlugin } from '../../registry/format.js';
import { cargoClientSnippet } from './client-setup.js';
import { cargoMigrations } from './migrations.js';
import { cargoRoutes } from './routes.js';
import { cargoUrls } from './urls.js';

/** Cargo: a sparse index, `.crate` downloads and the crates.io Web API. */
export const cargoFormat: FormatPlugin = {
  format: 'cargo',
  migrations: cargoMigrations,
  routes: cargoRoutes,
  clientSetup(repo, baseUrl, opts) {
    const urls = cargoUrls(baseUrl, repo.name);
    return { url: urls.sparseIndex, snippet: cargoClientSnippet(repo, urls, opts.caCertPath) };
  },
};
