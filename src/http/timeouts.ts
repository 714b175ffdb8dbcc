import type http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { TimeoutsConfig } from '../core/config.js';
import { ErrorCatalogue } from '../core/errors.js';

/**
 * HTTP/2's error codes and a frame flag (RFC 9113 §7 and §6.1), as node:http2's `constants` has them: written out so
 * that a plain HTTP start need not load node:http2 (cold start, issue 14; timeouts.test.ts compares them).
 */
export const H2 = { NO_ERROR: 0x0, CANCEL: 0x8 } as const;
const { NO_ERROR: NGHTTP2_NO_ERROR, CANCEL: NGHTTP2_CANCEL } = H2;

/**
 * HTTP/1.1 (plain, or the fallback of the TLS server): keep-alive, headers and whole-request
 * timeouts are Node's own; Node checks them every `connectionsCheckingInterval`, which
 * must be short enough for the configured values to mean what they say.
 */
export function http1ServerOptions(t: TimeoutsConfig): http.ServerOptions {
  const positive = [t.headersMs, t.requestMs].filter((ms) => ms > 0);
  const headersTimeout = t.requestMs > 0 && (t.headersMs === 0 || t.headersMs > t.requestMs) ? t.requestMs : t.headersMs;
  return {
    keepAliveTimeout: t.idleMs,
    headersTimeout,
    requestTimeout: t.requestMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(Math.min(30_000 * 4, ...positive) / 4))),
  };
}

/** Applies `http1ServerOptions` to a server made without them (the HTTP/2 server's HTTP/1.1 fallback). */
export function applyHttp1Timeouts(server: http.Server | Http2SecureServer, t: TimeoutsConfig): void {
  const o = http1ServerOptions(t);
  Object.assign(server, {
    keepAliveTimeout: o.keepAliveTimeout,
    headersTimeout: o.headersTimeout,
    requestTimeout: o.requestTimeout,
    connectionsCheckingInterval: o.connectionsCheckingInterval,
  });
}

/**
 * HTTP/2 sessions with no open stream for `idleMs` are closed with GOAWAY (Node never closes
 * them by itself). Frames such as PING do not keep an idle session open; a stream in flight does.
 */
export function guardHttp2Sessions(server: Http2SecureServer, t: TimeoutsConfig): void {
  // Fastify calls this on close (it does so only for servers it makes itself): without it a
  // client's open session would hold shutdown up until the idle timeout.
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  Object.assign(server, { closeHttp2Sessions: () => sessions.forEach((s) => !s.closed && s.close()) });
  if (t.idleMs <= 0) return;
  server.on('session', (session: ServerHttp2Session) => {
    // Per stream only a count and a timestamp: a timer armed and cleared for every stream (and a
    // closure per stream) cost more than an index read's own work. One timer at a time per
    // session; when it fires early (streams came and went meanwhile) it waits out the rest.
    let open = 0;
    let idleSince = Date.now();
    let timer: NodeJS.Timeout | null = null;
    const check = () => {
      timer = null;
      if (open > 0 || session.closed || session.destroyed) return;
      const left = idleSince + t.idleMs - Date.now();
      if (left > 0) return arm(left);
      session.goaway(NGHTTP2_NO_ERROR);
      session.close();
    };
    const arm = (ms: number) => {
      timer = setTimeout(check, ms);
      timer.unref();
    };
    const onStreamClose = () => {
      if (--open > 0 || session.closed) return;
      idleSince = Date.now();
      if (!timer) arm(t.idleMs);
    };
    session.on('stream', (stream: ServerHttp2Stream) => {
      // A stream the fast path answered (it runs first, on the server's listener) is with nghttp2 now, and a GOAWAY
      // lets it finish: only its start counts as activity. A listener per stream cost every read (issue 14).
      if (stream.writableEnded) {
        if (open === 0) idleSince = Date.now();
        return;
      }
      open++;
      stream.on('close', onStreamClose);
    });
    session.once('close', () => {
      if (timer) clearTimeout(timer);
      timer = null;
    });
    arm(t.idleMs);
  });
}

function http1HasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

/**
 * Answers 408 when a request body stops arriving for `bodyIdleMs`, or (HTTP/2; Node's
 * `requestTimeout` does it for HTTP/1.1) is not complete after `requestMs`; then closes the
 * connection (HTTP/1.1) or resets the stream (HTTP/2), so a stalled upload holds nothing.
 * Only the receiving side is limited: a download is never cut while it flows.
 */
export function guardRequestBody(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  t: TimeoutsConfig,
): void {
  const h2 = 'stream' in req ? (req as Http2ServerRequest).stream : null;
  if (h2 ? h2.endAfterHeaders : !http1HasBody(req.headers as IncomingHttpHeaders)) return;
  let deadline: NodeJS.Timeout | null = null;
  const done = () => {
    if (deadline) clearTimeout(deadline);
    if (h2) h2.setTimeout(0);
    // Once the response is finished, Node owns the socket's timeout (keep-alive): leave it be.
    else if (!res.writableFinished) req.socket?.setTimeout(0);
    req.off('timeout', onIdle);
  };
  const expire = (message: string) => {
    done();
    const answered = res.headersSent;
    if (!answered && !res.writableEnded) {
      const body = JSON.stringify({ error: { code: 'REQUEST_TIMEOUT', message } });
      const headers: Record<string, string | number> = {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      };
      if (!h2) headers.connection = 'close';
      (res as ServerResponse).writeHead(ErrorCatalogue.REQUEST_TIMEOUT, headers);
      res.end(body);
    }
    if (h2) {
      // RST_STREAM tells the client to stop sending; after the 408 has gone out.
      const reset = () => !h2.destroyed && h2.close(answered ? NGHTTP2_CANCEL : NGHTTP2_NO_ERROR);
      if (answered) reset();
      else res.once('finish', reset);
    } else {
      // Closing at once could turn the unread upload into an RST that hides the 408 from the client.
      setTimeout(() => req.socket.destroy(), 2000).unref();
    }
  };
  const onIdle = () =>
    expire(`the request body stopped arriving for ${seconds(t.bodyIdleMs)}; send it again (the server's timeouts.body_idle)`);
  if (t.bodyIdleMs > 0) {
    // HTTP/1.1: Node emits 'timeout' on an incomplete request when its socket is idle.
    if (h2) h2.setTimeout(t.bodyIdleMs, onIdle);
    else {
      req.socket.setTimeout(t.bodyIdleMs);
      req.on('timeout', onIdle);
    }
  }
  if (h2 && t.requestMs > 0) {
    deadline = setTimeout(
      () => expire(`the request was not received within ${seconds(t.requestMs)} (the server's timeouts.request)`),
      t.requestMs,
    );
    deadline.unref();
  }
  req.once('end', done);
  req.once('close', done);
  res.once('close', done);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
