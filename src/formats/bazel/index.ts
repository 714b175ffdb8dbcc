import type { FormatPlugin } from '../../http/format-plugin.js';
import { bazelParts } from './parts.js';
import { bazelClientSnippet, bazelRegistryUrl } from './client-setup.js';
import { lazyMigrations } from '../../storage/db.js';
import { cacheControlOf, classifyRegistryPath, contentTypeOf } from './paths.js';
import { ensureRegistryJson } from './registry-json.js';

/** Bazel: a Bzlmod index registry served as static files. Routes, verification and owners are loaded on first use. */
export const bazelFormat: FormatPlugin = {
  format: 'bazel',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: lazyMigrations(
    ['bazel_0001_versions', 'bazel_0002_archives', 'bazel_0003_owners', 'bazel_0004_search_entries', 'bazel_0005_proxy_immutable'],
    async () => (await import('./migrations.js')).bazelMigrations,
  ),
  parts: bazelParts,
  routes: async (app, ctx) => (await import('./routes.js')).bazelRoutes(app, ctx),
  verify: async (registry, repo) => (await import('./verify.js')).verifyBazelRepo(registry, repo),
  initRepo: ensureRegistryJson,
  packageRef: async (registry, repo, name) => (await import('./owners.js')).findModuleRef(registry, repo, name),
  // Every registry file is served at its own path; a hosted bazel_registry.json as stored.
  staticPaths: (docPath) => (classifyRegistryPath(docPath) ? [docPath] : []),
  web: async () => (await import('./web.js')).bazelWebParts,
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
