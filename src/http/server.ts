import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2ServerRequest } from 'node:http2';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonErrorHandler } from './api-errors.js';
import type { Registry } from '../registry/registry.js';
import type { FormatPlugin } from './format-plugin.js';
import { adminRoutes } from './admin-routes.js';
import { S3_PREFIX, s3Routes } from './s3/routes.js';
import { webRoutes } from '../web/plugin.js';
import type { AccessLog } from './logger.js';
import { observe, requestRecorder } from './observe.js';
import { answerHttp1, answerHttp2, answerHttp2Streams, fastIndexAnswerer } from './fast-index.js';
import { answerArtifactHttp2Streams, fastArtifactAnswerer } from './fast-artifact.js';
import { Shutdown } from './graceful.js';
import { applyHttp1Timeouts, guardHttp2Sessions, guardRequestBody, http1ServerOptions } from './timeouts.js';
import { nextRequestId } from './request-id.js';

export interface TlsMaterial {
  key: string;
  cert: string;
}

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
 * then index reads the fast path serves (http/fast-index.ts) are answered, their documents loaded as the routes would,
 * and every other request is held for the router.
 */
export function createServer(
  registry: Registry,
  formats: FormatPlugin[],
  opts: ServerOptions = {},
): { app: FastifyInstance; ready: Promise<void> } {
  const plugins = new Map(formats.map((f) => [f.format, f]));
  if (opts.logger) registry.log = opts.logger;
  const contexts = [...registry.repos.values()].flatMap((repo) => {
    const plugin = plugins.get(repo.format);
    const source = registry.sources.get(repo.name);
    return plugin && source ? [{ plugin, ctx: { registry, repo, source } }] : [];
  });
  const common: FastifyServerOptions = {
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // No child logger per request (pino serialises its bindings each time): log lines that
    // concern a request carry `reqId` themselves.
    childLoggerFactory: (logger) => logger,
    // One log line per request (in `observe`) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: nextRequestId,
    // Cargo builds `{api}/api/v1/…` by concatenation; a configured trailing slash doubles it.
    routerOptions: { ignoreDuplicateSlashes: true, maxParamLength: 500 },
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: true,
  };
  const record = requestRecorder(opts.accessLog ?? null);
  const fastRoutes = contexts.flatMap(({ plugin, ctx }) => plugin.fastIndex?.(ctx) ?? []);
  const answer = fastIndexAnswerer(fastRoutes, registry.metrics.requests, record);
  const artifacts = fastArtifactAnswerer(
    contexts.flatMap(({ plugin, ctx }) => plugin.fastArtifact?.(ctx) ?? []),
    registry.metrics.requests,
    record,
  );
  const timeouts = registry.config.timeouts;
  const shutdown = opts.shutdown ?? new Shutdown();
  // Our own server, so cached index reads are answered before Fastify's router (http/fast-index.ts).
  const serverFactory = (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      // A fast-path answer has ended by the time it returns, so the shutdown need not count it (a closure and a
      // listener per request); a shutdown with the socket idle then lets its bytes drain (destroySoon). While
      // draining every request goes the counted way, so its answer can ask the client to reconnect.
      if (!shutdown.draining && (answerHttp1(answer, req, res) || artifacts.http1(req, res))) return;
      shutdown.onRequest(req, res);
      guardRequestBody(req, res, timeouts);
      if (routed) handler(req, res);
      else void beforeRoutes(req, res, handler);
    };
    if (!opts.tls) {
      const server = http.createServer(http1ServerOptions(timeouts), listener);
      shutdown.track(server);
      return server;
    }
    const server = http2.createSecureServer(
      // A TLS handshake that never finishes is cut like headers that never arrive.
      {
        allowHTTP1: true,
        key: opts.tls.key,
        cert: opts.tls.cert,
        ...(timeouts.headersMs > 0 ? { handshakeTimeout: timeouts.headersMs } : {}),
      },
      listener as never,
    );
    applyHttp1Timeouts(server, timeouts);
    // Index reads first, as over HTTP/1.1: they are most of the reads, and each answerer's miss costs the other a lookup.
    answerArtifactHttp2Streams(server, artifacts);
    answerHttp2Streams(server, answer);
    guardHttp2Sessions(server, timeouts);
    shutdown.track(server);
    return server;
  };
  const app = (
    opts.tls
      ? Fastify({ ...common, http2: true, https: { allowHTTP1: true }, serverFactory } as unknown as FastifyServerOptions)
      : Fastify({ ...common, serverFactory } as FastifyServerOptions)
  ) as FastifyInstance;

  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  app.setErrorHandler(jsonErrorHandler('request'));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `nothing at ${req.method} ${req.url}` } });
  });

  observe(app, registry, record);
  let routed = false;
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
    for (const { plugin, ctx } of contexts) {
      await turn();
      await app.register(async (scope) => plugin.routes(scope, ctx), { prefix: `/${ctx.repo.name}` });
    }
    await app.ready();
    routed = true;
  })();
  // Settled here too, so a failure is the caller's to handle (through `ready`) and a held request's, never unhandled.
  ready.catch(() => {});

  /** A request that came before the router: an index read the fast path serves is loaded and answered, the rest wait. */
  async function beforeRoutes(req: IncomingMessage, res: ServerResponse, handler: (req: IncomingMessage, res: ServerResponse) => void) {
    try {
      if (!shutdown.draining && (await answer.load(req.method, req.url))) {
        const stream = (req as unknown as Http2ServerRequest).stream;
        if (req.httpVersionMajor === 2 ? answerHttp2(answer, stream, req.headers as never) : answerHttp1(answer, req, res)) return;
      }
    } catch {
      // The route meets the same failure and answers it in the client's terms.
    }
    try {
      await ready;
    } catch {
      res.statusCode = 503;
      res.end();
      return;
    }
    handler(req, res);
  }
  return { app, ready };
}
