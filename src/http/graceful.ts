import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';

/**
 * A server's way out. Draining: /-/readyz answers 503 (a load balancer takes the node out) while
 * requests are still served, each HTTP/1.1 answer closing its connection so clients reconnect
 * elsewhere. Closing: no new connections, in-flight requests finish (HTTP/2 sessions get GOAWAY),
 * idle connections are closed; whatever is still open at the deadline is cut.
 */
export class Shutdown {
  draining = false;
  private closing = false;
  /** HTTP/1.1 connections and how many requests each has in flight. */
  private readonly h1 = new Map<Socket, number>();
  private readonly sessions = new Set<ServerHttp2Session>();

  /** Watches a server's HTTP/1.1 connections (plain, or the TLS server's HTTP/1.1 fallback). */
  track(server: HttpServer | Http2SecureServer): void {
    const add = (socket: Socket) => {
      if ((socket as TLSSocket).alpnProtocol === 'h2') return;
      this.h1.set(socket, 0);
      socket.once('close', () => this.h1.delete(socket));
    };
    // A TLS server's connections are known once the handshake chose the protocol.
    if ('setSecureContext' in server) server.on('secureConnection', add);
    else server.on('connection', add);
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
  }

  /** Called first for every request: counts it, and asks draining HTTP/1.1 clients to reconnect. */
  onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket;
    if (this.draining) res.shouldKeepAlive = false;
    this.h1.set(socket, (this.h1.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (this.h1.get(socket) ?? 1) - 1;
      this.h1.set(socket, left);
      if (left === 0 && this.closing) socket.destroySoon();
    });
  }

  /**
   * Drains for `drainMs`, stops accepting connections, lets in-flight requests finish (until
   * `deadlineMs`; the rest are cut), then closes the app.
   */
  async stop(app: FastifyInstance, drainMs: number, deadlineMs: number): Promise<void> {
    this.draining = true;
    if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
    this.closing = true;
    // Fastify closes the server again and accepts that it is no longer running.
    if (app.server.listening) app.server.close(() => {});
    for (const [socket, inFlight] of this.h1) if (inFlight === 0) socket.destroySoon();
    // GOAWAY: the client opens no new stream here; the streams in flight finish.
    for (const session of this.sessions) if (!session.closed) session.close();
    const deadline = Date.now() + deadlineMs;
    while ((this.h1.size > 0 || this.sessions.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.h1.size > 0 || this.sessions.size > 0) {
      app.log.warn(
        { deadlineMs, connections: this.h1.size + this.sessions.size },
        'requests still in flight at the shutdown deadline were cut',
      );
      for (const socket of this.h1.keys()) socket.destroy();
      for (const session of this.sessions) session.destroy();
    }
    await app.close();
  }
}
