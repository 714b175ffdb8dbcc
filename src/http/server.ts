import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonErrorHandler } from './api-errors.js';
import type { Registry } from '../registry/registry.js';
import type { FormatPlugin } from './format-plugin.js';
import { adminRoutes } from './admin-routes.js';
import { S3_PREFIX, s3Routes } from './s3/routes.js';
import { webRoutes } from '../web/plugin.js';
import type { AccessLog } from './logger.js';
import { observe } from './observe.js';
import { earlyServer, type EarlyServer, type TlsMaterial } from './early-server.js';
import { Shutdown } from './graceful.js';
import { requestIdOf } from './request-id.js';

export type { TlsMaterial } from './early-server.js';

export interface ServerOptions {
  /** TLS key and certificate: the server then speaks HTTP/2 (ALPN h2) with HTTP/1.1 fallback. */
  tls?: TlsMaterial | null;
  /** A pino logger, or none (tests). */
  logger?: FastifyBaseLogger | null;
  /** Where one line per request goes (see http/logger.ts), or nowhere. */
  accessLog?: AccessLog | null;
  /** Told of every route as it is registered (the auth matrix test collects the route table with it). */
  onRoute?: (route: { method: string | string[]; url: string }) => void;
  /** The server's shutdown state (draining shows on /-/readyz); one is made when not given. */
  shutdown?: Shutdown;
  /** The server already made (and perhaps listening: `larder serve`, http/start.ts); one is made from the above if not. */
  early?: EarlyServer;
}

/** Builds the HTTP server: every repo mounted at `/{name}`, Larder's own routes under `/-/`. */
export async function buildServer(registry: Registry, formats: FormatPlugin[], opts: ServerOptions = {}): Promise<FastifyInstance> {
  const { app, ready } = createServer(registry, formats, opts);
  await ready;
  return app;
}

/**
 * The HTTP server at once, its routes while it may already listen (`larder serve`, a cold start): registering every
 * route of every repo is much of a start, so `ready` settles when it is done, between repos letting requests in. Until
 * then the early server (http/early-server.ts) answers index reads the fast path serves, their documents loaded as the
 * routes would, and holds every other request for the router.
 */
export function createServer(
  registry: Registry,
  formats: FormatPlugin[],
  opts: ServerOptions = {},
): { app: FastifyInstance; ready: Promise<void> } {
  if (opts.logger) registry.log = opts.logger;
  const early = opts.early ?? earlyServer(registry, formats, { tls: opts.tls, accessLog: opts.accessLog, shutdown: opts.shutdown });
  const { serverFactory, shutdown, record } = early;
  const common: FastifyServerOptions = {
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // No child logger per request (pino serialises its bindings each time): log lines that
    // concern a request carry `reqId` themselves.
    childLoggerFactory: (logger) => logger,
    // One log line per request (in `observe`) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Every request's id from requestIdOf, as on the fast paths: an incoming x-request-id only when it is plain text.
    requestIdHeader: false,
    genReqId: (req) => requestIdOf(req.headers),
    // Cargo builds `{api}/api/v1/…` by concatenation; a configured trailing slash doubles it.
    routerOptions: { ignoreDuplicateSlashes: true, maxParamLength: 500 },
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: true,
  };
  // The early server's (http/early-server.ts): cached index reads are answered before Fastify's router.
  const app = (
    early.secure
      ? Fastify({ ...common, http2: true, https: { allowHTTP1: true }, serverFactory } as unknown as FastifyServerOptions)
      : Fastify({ ...common, serverFactory } as FastifyServerOptions)
  ) as FastifyInstance;

  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  app.setErrorHandler(jsonErrorHandler('request'));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `nothing at ${req.method} ${req.url}` } });
  });

  observe(app, registry, record);
  // A turn of the event loop before each part: the caller listens first, and requests that came meanwhile are read.
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const ready = (async () => {
    await turn();
    await app.register(adminRoutes, { registry, shutdown });
    await turn();
    // The S3-compatible endpoint: buckets are repos whose format takes object writes (Brioche's cache).
    await app.register(s3Routes, { registry, prefix: S3_PREFIX });
    await turn();
    // The web UI: `/` and pages under /-/ (no repo can be named `-`).
    await app.register(webRoutes, { registry });
    // Sources were checked when the registry opened: every repo's kind is one its format serves.
    for (const { plugin, ctx } of early.repos) {
      await turn();
      await app.register(async (scope) => plugin.routes(scope, ctx), { prefix: `/${ctx.repo.name}` });
    }
    await app.ready();
    early.routed();
  })();
  // Held requests are answered 503 on a failure, which is otherwise the caller's to handle (through `ready`).
  ready.catch(() => early.failed());

  return { app, ready };
}
