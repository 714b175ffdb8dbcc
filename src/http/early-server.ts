import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Registry } from '../registry/registry.js';
import type { FormatPlugin, RouteContext } from './format-plugin.js';
import type { AccessLog } from './logger.js';
import { requestRecorder, type RequestRecorder } from './observe.js';
import { answerHttp1, answerHttp2Streams, fastIndexAnswerer } from './fast-index.js';
import { answerArtifactHttp2Streams, fastArtifactAnswerer } from './fast-artifact.js';
import { Shutdown } from './graceful.js';
import { http2ServerOptions, widenConnectionWindows } from './h2-settings.js';
import { applyHttp1Timeouts, guardHttp2Sessions, guardRequestBody, http1ServerOptions } from './timeouts.js';

export interface TlsMaterial {
  key: string;
  cert: string;
}

/** What hands a request to the router (Fastify's handler). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface EarlyServerOptions {
  /** TLS key and certificate: the server then speaks HTTP/2 (ALPN h2) with HTTP/1.1 fallback. */
  tls?: TlsMaterial | null;
  /** Where one line per request goes (see http/logger.ts), or nowhere. */
  accessLog?: AccessLog | null;
  /** The server's shutdown state (draining shows on /-/readyz); one is made when not given. */
  shutdown?: Shutdown;
}

/** A repo's format and what its routes get. */
export interface RepoRoutes {
  plugin: FormatPlugin;
  ctx: RouteContext;
}

/**
 * The Node server `larder serve` listens with before the router exists (http/server.ts builds that, with Fastify,
 * after): cached public index reads and small artifacts are answered on it directly, and until the router is ready
 * the index reads the fast path serves are loaded and answered as well, every other request held for the router.
 */
export interface EarlyServer {
  server: http.Server | Http2SecureServer;
  /** TLS: the server speaks HTTP/2, with HTTP/1.1 as the fallback. */
  secure: boolean;
  shutdown: Shutdown;
  record: RequestRecorder;
  /** Every repo whose format is given, with what its routes get. */
  repos: RepoRoutes[];
  /** Fastify's `serverFactory`: takes the router's handler, gives the server. */
  serverFactory(handler: RequestHandler): http.Server | Http2SecureServer;
  /** The router is ready (every route registered): requests go straight to it from now on, held ones first. */
  routed(): void;
  /** The router could not be built: held requests, and any that come later, are answered 503. */
  failed(): void;
  /**
   * Settles once the requests already coming in are served: `quietMs` passed with no new connection or request, or a
   * request waits for the router, or `maxMs` passed. Loading the router (tens of milliseconds of one synchronous
   * require) waits for it, so the clients that connected as the server started listening are answered first.
   */
  settled(quietMs: number, maxMs: number): Promise<void>;
}

/** Builds the server and what answers before the router; no Fastify (a cold start loads it only after listening). */
export function earlyServer(registry: Registry, formats: FormatPlugin[], opts: EarlyServerOptions = {}): EarlyServer {
  const plugins = new Map(formats.map((f) => [f.format, f]));
  const repos = [...registry.repos.values()].flatMap((repo) => {
    const plugin = plugins.get(repo.format);
    const source = registry.sources.get(repo.name);
    return plugin && source ? [{ plugin, ctx: { registry, repo, source } }] : [];
  });
  const record = requestRecorder(opts.accessLog ?? null);
  const answer = fastIndexAnswerer(
    repos.flatMap(({ plugin, ctx }) => plugin.fastIndex?.(ctx) ?? []),
    registry.metrics.requests,
    record,
  );
  const artifacts = fastArtifactAnswerer(
    repos.flatMap(({ plugin, ctx }) => plugin.fastArtifact?.(ctx) ?? []),
    registry.metrics.requests,
    record,
  );
  const timeouts = registry.config.timeouts;
  const shutdown = opts.shutdown ?? new Shutdown();
  let handler: RequestHandler | null = null;
  let state: 'building' | 'routed' | 'failed' = 'building';
  let settle!: (ok: boolean) => void;
  const router = new Promise<boolean>((resolve) => (settle = resolve));
  /** Connections, TLS sessions, HTTP/2 streams and requests seen, and requests held for the router: for `settled`. */
  let activity = 0;
  let held = 0;
  /** Ends a pending `settled` at once: a request waits for the router. */
  let wake: (() => void) | null = null;

  /**
   * A request the fast path could not answer at once. An index read over HTTP/1.1 is loaded and answered by the fast
   * path (over HTTP/2 that happens on the raw stream, in `answerHttp2Streams`, before a request object exists): before
   * the router exists, and after it when the document is a local source's not yet cached (its first read). Sent through
   * Fastify, first reads made Node's own HTTP code slower for every cached read after them (issue 14: bare Node's
   * handler in Larder's fast path cost 34.7 µs a read against 30.0 in bare Node); a proxy's first read still goes to its
   * route, so a failing upstream is asked once. A local source's small artifact is read and answered the same way
   * (fast-artifact.ts, `loadsFirst`). The rest wait for the router.
   */
  const loadFirst = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      // HTTP/2 reads were loaded on the raw stream already (`answerHttp2Streams`): this one is the route's.
      if (req.httpVersionMajor !== 2 && !shutdown.draining) {
        if (await answer.load(req.method, req.url)) {
          if (answerHttp1(answer, req, res)) return;
        } else if (artifacts.loadsFirst(req.method, req.url, req.headers) && (await artifacts.load(req.url!))) {
          if (artifacts.http1(req, res)) return;
        }
      }
    } catch {
      // The route meets the same failure and answers it in the client's terms.
    }
    if (state !== 'routed') {
      held++;
      wake?.();
    }
    if (!(await router) || !handler) {
      res.statusCode = 503;
      res.end();
      return;
    }
    handler(req, res);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // A fast-path answer has ended by the time it returns, so the shutdown need not count it (a closure and a
    // listener per request); a shutdown with the socket idle then lets its bytes drain (destroySoon). While
    // draining every request goes the counted way, so its answer can ask the client to reconnect.
    if (state !== 'routed') activity++;
    if (!shutdown.draining && (answerHttp1(answer, req, res) || artifacts.http1(req, res))) return;
    shutdown.onRequest(req, res);
    guardRequestBody(req, res, timeouts);
    if (state === 'routed' && !answer.loadsFirst(req.method, req.url) && !artifacts.loadsFirst(req.method, req.url, req.headers))
      handler!(req, res);
    else void loadFirst(req, res);
  };
  const server = opts.tls ? secureServer(opts.tls) : http.createServer(http1ServerOptions(timeouts), listener);
  shutdown.track(server);
  const COUNTED = ['connection', 'secureConnection', 'stream'];
  const active = () => activity++;
  for (const event of COUNTED) server.on(event, active);

  function secureServer(tls: TlsMaterial): Http2SecureServer {
    // Only a TLS start loads HTTP/2 (and TLS): a plain one never needs them.
    const http2 = process.getBuiltinModule('node:http2');
    const secure = http2.createSecureServer(
      // A TLS handshake that never finishes is cut like headers that never arrive.
      {
        allowHTTP1: true,
        key: tls.key,
        cert: tls.cert,
        ...(timeouts.headersMs > 0 ? { handshakeTimeout: timeouts.headersMs } : {}),
        ...http2ServerOptions(registry.config.http2),
      },
      listener as never,
    );
    applyHttp1Timeouts(secure, timeouts);
    // Index reads first, as over HTTP/1.1: they are most of the reads, and each answerer's miss costs the other a lookup.
    answerArtifactHttp2Streams(
      secure,
      artifacts,
      (method, url, headers) => !shutdown.draining && artifacts.loadsFirst(method, url, headers),
    );
    // First reads on the raw stream as well: those `loadFirst` answers over HTTP/1.1.
    answerHttp2Streams(
      secure,
      answer,
      (method, url) => !shutdown.draining && (state === 'routed' ? answer.loadsFirst(method, url) : answer.locates(method, url)),
    );
    guardHttp2Sessions(secure, timeouts);
    widenConnectionWindows(secure, registry.config.http2);
    return secure;
  }

  return {
    server,
    secure: Boolean(opts.tls),
    shutdown,
    record,
    repos,
    serverFactory(h) {
      handler = h;
      return server;
    },
    routed() {
      state = 'routed';
      for (const event of COUNTED) server.off(event, active);
      settle(true);
    },
    failed() {
      state = 'failed';
      for (const event of COUNTED) server.off(event, active);
      settle(false);
    },
    settled(quietMs, maxMs) {
      const deadline = performance.now() + maxMs;
      return new Promise<void>((resolve) => {
        let seen = activity;
        let timer: NodeJS.Timeout | undefined;
        const done = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
        const check = () => {
          if (activity === seen || performance.now() >= deadline) return done();
          seen = activity;
          timer = setTimeout(check, quietMs);
        };
        if (held > 0) return done();
        wake = done;
        timer = setTimeout(check, quietMs);
      });
    },
  };
}
