import type { Http2SecureServer, SecureServerOptions, ServerHttp2Session } from 'node:http2';
import type { Http2Config } from '../core/config.js';

/**
 * The HTTP/2 server's SETTINGS from `[http2]`: a bound on the streams one connection has open (Node announces none,
 * so a client could keep thousands of requests in memory at once) and the per-stream receive window.
 */
export function http2ServerOptions(c: Http2Config): Pick<SecureServerOptions, 'settings'> {
  return { settings: { maxConcurrentStreams: c.maxConcurrentStreams, initialWindowSize: c.windowBytes } };
}

/**
 * The connection's receive window is not a SETTINGS value (RFC 9113 §6.9.2): each session widens it with a
 * WINDOW_UPDATE, or one upload at a time is held to the protocol's 64 KiB per round trip however wide its stream's is.
 */
export function widenConnectionWindows(server: Http2SecureServer, c: Http2Config): void {
  if (c.windowBytes <= 65_535) return;
  server.on('session', (session: ServerHttp2Session) => session.setLocalWindowSize(c.windowBytes));
}
