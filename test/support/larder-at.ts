/**
 * `openTestApp` on a data directory the test owns, so one data directory can be opened again with
 * another configuration (a proxy warmed online, then reopened with `offline = true`). The caller
 * removes the directory.
 */
import path from 'node:path';
import { loadConfig, type OutboundConfig, type RepoConfig } from '../../src/core/config.js';
import { FORMATS } from '../../src/cli/context.js';
import { TEST_ADMIN_TOKEN, type TestApp } from './larder.js';

/** Builds Larder on `data` without listening; `stop()` closes it and keeps the data. */
export async function openTestAppAt(data: string, opts: { repos: RepoConfig[]; outbound?: Partial<OutboundConfig> }): Promise<TestApp> {
  const { openRegistry } = await import('../../src/registry/registry.js');
  const { buildServer } = await import('../../src/http/server.js');
  const config = loadConfig({
    cwd: path.dirname(data),
    env: {},
    overrides: { data, database: 'sqlite', publicUrl: 'https://larder.test' },
  });
  config.repos = opts.repos;
  Object.assign(config.outbound, opts.outbound ?? {});
  const registry = await openRegistry(config, FORMATS);
  let app: import('fastify').FastifyInstance;
  try {
    await registry.auth.bootstrapAdmin(TEST_ADMIN_TOKEN);
    app = await buildServer(registry, FORMATS, { logger: null });
    await app.ready();
  } catch (err) {
    await registry.close();
    throw err;
  }
  return {
    app,
    registry,
    data,
    adminToken: TEST_ADMIN_TOKEN,
    async stop() {
      await app.close();
      await registry.close();
    },
  };
}
