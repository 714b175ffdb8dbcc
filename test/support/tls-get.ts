import http2 from 'node:http2';
import https from 'node:https';

/** A response as the fast-path tests compare it: status, headers (without HTTP/2 pseudo-headers), body. */
export type Answer = { status: number; headers: Record<string, unknown>; body: Buffer };

/** A GET (or `method`) over HTTPS/1.1 on a fresh connection (no agent), trusting `ca`. */
export function getH1(base: string, ca: Buffer, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    https
      .request(base, { path: url, method, ca, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject)
      .end();
  });
}

/** A GET (or `method`) over HTTP/2 (TLS, ALPN h2) on its own session, trusting `ca`. */
export function getH2(base: string, ca: Buffer, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base, { ca });
    session.on('error', reject);
    const req = session.request({ ':path': url, ':method': method, ...headers });
    let got: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (got = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      const { ':status': status, ...rest } = got;
      resolve({ status: Number(status), headers: rest, body: Buffer.concat(chunks) });
    });
    req.end();
  });
}

/** The headers a fast path and its route must agree on: everything but the per-response ones. */
export function comparableHeaders(h: Record<string, unknown>): Record<string, unknown> {
  // Object.entries drops the symbol keys Node's HTTP/2 headers carry.
  const { date: _d, 'x-request-id': _id, connection: _c, 'keep-alive': _k, ...rest } = Object.fromEntries(Object.entries(h));
  return rest;
}
