import type { FormatPlugin } from '../../http/format-plugin.js';
import { briocheClientSetup } from './client-setup.js';
import { parseTagPath } from './keys.js';
import { lazyMigrations } from '../../storage/db.js';
import { briocheParts } from './parts.js';
import { projectTagged } from './store.js';

/**
 * Brioche: a tag registry and a content-addressed cache, hosted and as a proxy of the official services. Routes, object
 * writes, verification and owners are loaded on first use.
 */
export const briocheFormat: FormatPlugin = {
  format: 'brioche',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: lazyMigrations(
    ['brioche_0001_cache_tags', 'brioche_0002_search_entries'],
    async () => (await import('./migrations.js')).briocheMigrations,
  ),
  parts: briocheParts,
  objectStore: { putObject: async (...args) => (await import('./objects.js')).briocheObjectStore.putObject(...args) },
  routes: async (app, ctx) => (await import('./routes.js')).briocheRoutes(app, ctx),
  clientSetup: briocheClientSetup,
  verify: async (registry, repo) => (await import('./verify.js')).verifyBriocheRepo(registry, repo),
  web: async () => (await import('./web.js')).briocheWeb,
  staticPaths(docPath) {
    const tag = parseTagPath(docPath);
    return tag ? [`registry/v0/project-tags/${tag.project}/${tag.tag}`] : [];
  },
  // Owners are kept per project name (the first token to tag a project owns it); null for a project this repo never tagged.
  packageRef: async (registry, repo, name) =>
    (await projectTagged(registry.db, repo, name)) ? (await import('./tags.js')).projectRef(repo, name) : null,
};
