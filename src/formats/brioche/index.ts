import type { FormatPlugin } from '../../http/format-plugin.js';
import { briocheClientSetup } from './client-setup.js';
import { parseTagPath } from './keys.js';
import { briocheMigrations } from './migrations.js';
import { briocheObjectStore } from './objects.js';
import { briocheParts } from './parts.js';
import { briocheRoutes } from './routes.js';
import { projectTagged } from './store.js';
import { projectRef } from './tags.js';
import { verifyBriocheRepo } from './verify.js';
import { briocheWeb } from './web.js';

/** Brioche: a tag registry and a content-addressed cache, hosted and as a proxy of the official services. */
export const briocheFormat: FormatPlugin = {
  format: 'brioche',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: briocheMigrations,
  parts: briocheParts,
  objectStore: briocheObjectStore,
  routes: briocheRoutes,
  clientSetup: briocheClientSetup,
  verify: verifyBriocheRepo,
  web: briocheWeb,
  staticPaths(docPath) {
    const tag = parseTagPath(docPath);
    return tag ? [`registry/v0/project-tags/${tag.project}/${tag.tag}`] : [];
  },
  // Owners are kept per project name (the first token to tag a project owns it); null for a project this repo never tagged.
  packageRef: async (registry, repo, name) => ((await projectTagged(registry.db, repo, name)) ? projectRef(repo, name) : null),
};
