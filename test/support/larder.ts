import path from 'node:path';
import { loadConfig, type OutboundConfig, type RepoConfig, type UnpackedLimits } from '../../src/core/config.js';
import { FORMATS } from '../../src/cli/context.js';
import { startLarder, type RunningLarder } from '../../src/http/start.js';
import { tempDir } from './tmp.js';

export interface TestLarder extends RunningLarder {
  data: string;
  /** An admin token, fixed for the test. */
  adminToken: string;
  stop(): Promise<void>;
}

export interface TestLarderOptions {
  /** "fs" (default) or an s3:// URL. */
  blobs?: string;
  /** "sqlite" (default) or a postgres:// URL. */
  database?: string;
  tls?: boolean;
  repos?: RepoConfig[];
  limits?: Partial<Record<'maxCrateSize' | 'maxUnpackedSize' | 'maxArchiveEntries' | 'maxMetadataSize' | 'maxArchiveSize', number>>;
  /** [outbound] settings, e.g. `{ allowPrivate: ['127.0.0.1'] }` for fixtures served on loopback. */
  outbound?: Partial<OutboundConfig>;
  /** Milliseconds; the rest keep their defaults. */
  timeouts?: Partial<import('../../src/core/config.js').TimeoutsConfig>;
  /** [uploads] memory budget and wait. */
  uploads?: Partial<{ memory: number; waitMs: number }>;
  /** [http2] settings of the TLS server. */
  http2?: Partial<import('../../src/core/config.js').Http2Config>;
  /** Per-format unpacked limits ([unpacked_limits]). */
  unpackedLimits?: Partial<UnpackedLimits>;
  /** [cache] budgets, e.g. `{ indexDocuments: 2 ** 20 }`. */
  cache?: Partial<{ indexDocuments: number }>;
  /** The formats to serve instead of FORMATS (a test variant of one, e.g. with a stand-in part). */
  formats?: import('../../src/http/format-plugin.js').FormatPlugin[];
}

export const TEST_ADMIN_TOKEN = 'larder_test-admin-token-0123456789';

/** Starts Larder on 127.0.0.1 with a free port and a temporary data directory. */
export async function startTestLarder(opts: TestLarderOptions = {}): Promise<TestLarder> {
  const dir = tempDir('larder-data-');
  const config = loadConfig({
    cwd: dir.path,
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      data: path.join(dir.path, 'data'),
      database: opts.database ?? 'sqlite',
      tls: opts.tls ? 'self-signed' : 'off',
    },
  });
  if (opts.repos) config.repos = opts.repos;
  if (opts.blobs) config.blobs = opts.blobs;
  Object.assign(config.limits, opts.limits ?? {});
  Object.assign(config.outbound, opts.outbound ?? {});
  Object.assign(config.timeouts, opts.timeouts ?? {});
  Object.assign(config.http2, opts.http2 ?? {});
  Object.assign(config.uploads, opts.uploads ?? {});
  Object.assign(config.unpackedLimits, opts.unpackedLimits ?? {});
  Object.assign(config.cache, opts.cache ?? {});
  // A start that fails (a refused configuration) leaves no data directory behind.
  const running = await startLarder(config, { formats: opts.formats ?? FORMATS, logger: false, adminToken: TEST_ADMIN_TOKEN }).catch(
    (err: unknown) => {
      dir.remove();
      throw err;
    },
  );
  return {
    ...running,
    data: config.data,
    adminToken: TEST_ADMIN_TOKEN,
    async stop() {
      await running.close();
      dir.remove();
    },
  };
}

export interface TestApp {
  app: import('fastify').FastifyInstance;
  registry: import('../../src/registry/registry.js').Registry;
  data: string;
  adminToken: string;
  stop(): Promise<void>;
}

/** Builds Larder without listening, for `app.inject` protocol tests. */
export async function openTestApp(
  opts: Omit<TestLarderOptions, 'tls'> & {
    publicUrl?: string;
    onRoute?: (route: { method: string | string[]; url: string }) => void;
    /** Another app's `data`: a second node on its database and files (what a restart or a scale-out sees). */
    data?: string;
  } = {},
): Promise<TestApp> {
  const { openRegistry } = await import('../../src/registry/registry.js');
  const { buildServer } = await import('../../src/http/server.js');
  const dir = tempDir('larder-data-');
  const config = loadConfig({
    cwd: dir.path,
    env: {},
    overrides: {
      data: opts.data ?? path.join(dir.path, 'data'),
      database: opts.database ?? 'sqlite',
      publicUrl: opts.publicUrl ?? 'https://larder.test',
    },
  });
  if (opts.repos) config.repos = opts.repos;
  if (opts.blobs) config.blobs = opts.blobs;
  Object.assign(config.limits, opts.limits ?? {});
  Object.assign(config.outbound, opts.outbound ?? {});
  Object.assign(config.uploads, opts.uploads ?? {});
  Object.assign(config.unpackedLimits, opts.unpackedLimits ?? {});
  Object.assign(config.cache, opts.cache ?? {});
  const formats = opts.formats ?? FORMATS;
  const registry = await openRegistry(config, formats).catch((err: unknown) => {
    dir.remove();
    throw err;
  });
  let app: import('fastify').FastifyInstance;
  try {
    await registry.auth.bootstrapAdmin(TEST_ADMIN_TOKEN);
    app = await buildServer(registry, formats, { logger: null, onRoute: opts.onRoute });
    await app.ready();
  } catch (err) {
    await registry.close();
    dir.remove();
    throw err;
  }
  return {
    app,
    registry,
    data: config.data,
    adminToken: TEST_ADMIN_TOKEN,
    async stop() {
      await app.close();
      await registry.close();
      dir.remove();
    },
  };
}
