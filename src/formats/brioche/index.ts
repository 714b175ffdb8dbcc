import type { FormatPlugin } from '../../http/format-plugin.js';
import { briocheMigrations } from './migrations.js';
import { briocheObjectStore } from './objects.js';
import { briocheParts } from './parts.js';
import { briocheRoutes } from './routes.js';

/** Brioche: a tag registry and a content-addressed cache, hosted and as a proxy of the official services. */
export const briocheFormat: FormatPlugin = {
  format: 'brioche',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: briocheMigrations,
  parts: briocheParts,
  objectStore: briocheObjectStore,
  routes: briocheRoutes,
  clientSetup(repo, baseUrl) {
    const url = `${baseUrl.replace(/\/+$/, '')}/${repo.name}`;
    return { url: `${url}/registry/`, snippet: `registry_url = "${url}/registry/"` };
  },
};
