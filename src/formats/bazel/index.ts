import type { FormatPlugin } from '../../http/format-plugin.js';
import { bazelParts } from './parts.js';
import { bazelClientSnippet, bazelRegistryUrl } from './client-setup.js';
import { bazelMigrations } from './migrations.js';
import { findModuleRef } from './owners.js';
import { classifyRegistryPath } from './paths.js';
import { ensureRegistryJson } from './registry-json.js';
import { bazelRoutes } from './routes.js';
import { verifyBazelRepo } from './verify.js';
import { bazelWebParts } from './web.js';

/** Bazel: a Bzlmod index registry served as static files. */
export const bazelFormat: FormatPlugin = {
  format: 'bazel',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: bazelMigrations,
  parts: bazelParts,
  routes: bazelRoutes,
  verify: verifyBazelRepo,
  initRepo: ensureRegistryJson,
  packageRef: findModuleRef,
  // Every registry file is served at its own path; a hosted bazel_registry.json as stored.
  staticPaths: (docPath) => (classifyRegistryPath(docPath) ? [docPath] : []),
  web: bazelWebParts,
  clientSetup(repo, baseUrl, opts) {
    const url = bazelRegistryUrl(baseUrl, repo);
    return { url, snippet: bazelClientSnippet(repo, url, opts.caCertPath) };
  },
};
