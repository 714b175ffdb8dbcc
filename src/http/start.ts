import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LarderConfig } from '../core/config.js';
import type { FormatPlugin } from './format-plugin.js';
import { openRegistry, type Registry } from '../registry/registry.js';
import { createLogging } from './logger.js';
import { earlyServer, type EarlyServer, type TlsMaterial } from './early-server.js';
import { ensureSelfSignedTls } from './tls.js';
import { Shutdown } from './graceful.js';

/**
 * The router is loaded once the server has seen no new connection or request for ROUTER_QUIET_MS, and at the latest
 * ROUTER_WAIT_MS after it started listening (`EarlyServer.settled`).
 */
const ROUTER_QUIET_MS = 10;
const ROUTER_WAIT_MS = 100;

export interface RunningLarder {
  app: FastifyInstance;
  registry: Registry;
  /** The base URL clients use, e.g. https://127.0.0.1:8080 */
  url: string;
  /** The CA certificate to trust when serving a self-signed certificate. */
  caCertPath: string | null;
  /** The admin token generated on first start (null when one existed or LARDER_ADMIN_TOKEN was used). */
  adminToken: string | null;
  /** Closes at once: in-flight requests finish (within [timeouts] shutdown), then storage closes. */
  close(): Promise<void>;
  /** SIGTERM: /-/readyz answers 503 for [timeouts] drain while requests are still served, then `close`. */
  drain(): Promise<void>;
}

export interface StartOptions {
  formats: FormatPlugin[];
  logger?: boolean;
  /** Adopted as the admin token on first start (LARDER_ADMIN_TOKEN). */
  adminToken?: string;
}

/** Storage opened and migrated, the admin bootstrapped and TLS material ready: all but listening. */
export interface PreparedLarder {
  registry: Registry;
  tls: TlsMaterial | null;
  caCertPath: string | null;
  adminToken: string | null;
}

/** Everything `larder serve` does before it listens; the cluster primary does only this. */
export async function prepareLarder(config: LarderConfig, opts: StartOptions): Promise<PreparedLarder> {
  fs.mkdirSync(config.data, { recursive: true });
  const registry = await openRegistry(config, opts.formats);
  try {
    const adminToken = await registry.auth.bootstrapAdmin(opts.adminToken);
    let tls: TlsMaterial | null = null;
    let caCertPath: string | null = null;
    if (config.tls.mode === 'self-signed') {
      const names = [...config.tls.hostnames, ...(isWildcard(config.listen.host) ? [] : [config.listen.host])];
      const made = await ensureSelfSignedTls(path.join(config.data, 'tls'), names);
      tls = { key: made.key, cert: made.cert };
      caCertPath = made.caCertPath;
    } else if (config.tls.mode === 'files') {
      tls = { key: fs.readFileSync(config.tls.key, 'utf8'), cert: fs.readFileSync(config.tls.cert, 'utf8') };
    }
    return { registry, tls, caCertPath, adminToken };
  } catch (err) {
    await registry.close();
    throw err;
  }
}

/** The base URL clients use for a server listening on `port`. */
export function clientBaseUrl(config: LarderConfig, tls: boolean, port: number): string {
  const host = isWildcard(config.listen.host)
    ? '127.0.0.1'
    : config.listen.host.includes(':')
      ? `[${config.listen.host}]`
      : config.listen.host;
  return config.publicUrl ?? `${tls ? 'https' : 'http'}://${host}:${port}`;
}

/**
 * Opens storage, prepares TLS, and listens: one server process. The server listens before Fastify and the routes are
 * even loaded (cold start, issue 14: they are most of a start): index reads are answered meanwhile (http/early-server.ts).
 */
export async function startLarder(config: LarderConfig, opts: StartOptions): Promise<RunningLarder> {
  const { registry, tls, caCertPath, adminToken } = await prepareLarder(config, opts);
  try {
    const logging = opts.logger === false ? null : createLogging(config.logLevel);
    if (logging) registry.log = logging.log;
    const shutdown = new Shutdown();
    const early = earlyServer(registry, opts.formats, { tls, accessLog: logging?.access ?? null, shutdown });
    const route = async () => {
      // The process's default metrics (event loop, GC) start counting here, with prom-client loaded.
      const [logger] = await Promise.all([logging?.load() ?? null, registry.metrics.exposition()]);
      const { createServer } = await import('./server.js');
      return createServer(registry, opts.formats, { logger, early });
    };
    let app: FastifyInstance;
    if (config.listen.host === 'localhost') {
      // Fastify's listen binds both 127.0.0.1 and ::1 for it, once every route is in place.
      const routed = await route();
      await routed.ready;
      app = routed.app;
      await app.listen({ host: config.listen.host, port: config.listen.port });
    } else {
      await listen(early.server, config.listen.host, config.listen.port);
      try {
        await early.settled(ROUTER_QUIET_MS, ROUTER_WAIT_MS);
        const routed = await route();
        await routed.ready;
        app = routed.app;
      } catch (err) {
        // Requests held for the router are answered 503.
        early.failed();
        early.server.close();
        throw err;
      }
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.listen.port;
    let stopping: Promise<void> | undefined;
    return {
      app,
      registry,
      url: clientBaseUrl(config, tls !== null, port),
      caCertPath,
      adminToken,
      close: () => stop(0),
      drain: () => stop(config.timeouts.drainMs),
    };
    // Once: SIGTERM during a drain, or close() after it, waits for the same shutdown.
    async function stop(drainMs: number): Promise<void> {
      stopping ??= (async () => {
        await shutdown.stop(app, drainMs, config.timeouts.shutdownMs);
        await registry.close();
        await logging?.settle();
      })();
      return stopping;
    }
  } catch (err) {
    await registry.close();
    throw err;
  }
}

/** Fastify's own `listen` would first wait for every route; this is the server's, as soon as it exists. */
function listen(server: EarlyServer['server'], host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}
