import type { FormatPlugin } from '../../http/format-plugin.js';
import { bazelParts } from './parts.js';
import { bazelClientSnippet, bazelRegistryUrl } from './client-setup.js';
import { bazelMigrations } from './migrations.js';
import { cacheControlOf, classifyRegistryPath, contentTypeOf } from './paths.js';
import { findModuleRef } from './owners.js';
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
  // Registry files are static, byte for byte: cached ones are answered before the router, like Cargo's index files.
  fastIndex({ repo, source }) {
    if (repo.visibility !== 'public') return null;
    return {
      source,
      repo: repo.name,
      format: 'bazel',
      prefix: `/${repo.name}/`,
      docPath: (rest) => {
        const file = classifyRegistryPath(rest);
        // A source that fetches archives presents bazel_registry.json with its own mirror (per request): the route's job.
        if (!file || (file.kind === 'registry-json' && source.fetchesArtifacts)) return null;
        return rest;
      },
      // Per file, as the route's `serve` sends them; docPath only hands on paths it classified.
      contentType: contentTypeOf,
      cacheControl: (path) => cacheControlOf(classifyRegistryPath(path)!),
    };
  },
  clientSetup(repo, baseUrl, opts) {
    const url = bazelRegistryUrl(baseUrl, repo);
    return { url, snippet: bazelClientSnippet(repo, url, opts.caCertPath) };
  },
};
