/**
 * A fake upstream for proxy tests: a real HTTP server on 127.0.0.1 (a free port) serving a map of
 * path → response that tests change at runtime, with conditional GETs, request counts, and faults.
 *
 *   const up = await startFakeUpstream();
 *   up.set('/config.json', { body: '{"dl": "…"}' });          // 200, ETag from the body, If-None-Match → 304
 *   up.set('/crates/a', [{ body: 'v1' }, { body: 'v2' }]);     // changes between two requests (the last one stays)
 *   up.fault('/crates/a', { kind: 'status', status: 503 }, { times: 2 });  // the next two requests get 503
 *   up.fault('*', { kind: 'slow', ms: 5000 });                // every path: headers 5 s late
 *   up.hits('/crates/a'); up.requests.at(-1)?.headers['user-agent'];
 *   await up.stop(); await up.start();                        // connection refused, then back on the same port
 *   await up.close();
 *   up.forward('/origin/git/', (req, res) => …);                // paths under a prefix answered by a handler (a git server)
 *
 * Paths are matched without the query string. A path with no response answers 404. Forwarded paths
 * take the `reset`, `status` and `slow` faults (not `truncate`/`wrong-bytes`), and stop with the server.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One answer. */
export interface FakeResponse {
  /** Default: empty. */
  body?: string | Buffer;
  /** Default 200. */
  status?: number;
  /** Extra headers (Content-Type, Retry-After, …). */
  headers?: Record<string, string>;
  /** The ETag; default a quoted hash of the body (If-None-Match with it answers 304); false for none. */
  etag?: string | false;
  /** A Last-Modified header (If-Modified-Since equal to it answers 304). */
  lastModified?: string;
  /** Send no Content-Length (chunked encoding), as a server that does not know the size. */
  chunked?: boolean;
}

/** Something going wrong, per path or for every path ('*'). */
export type Fault =
  /** The connection is dropped before any answer (a crash, a reset). */
  | { kind: 'reset' }
  /** The answer is late: its headers by `ms` (stage 'headers', default), or its body after the first bytes. */
  | { kind: 'slow'; ms: number; stage?: 'headers' | 'body' }
  /** An error status instead of the response (500, 503, 429 with `headers: {'retry-after': '1'}`). */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Content-Length promises the whole body; `bytes` (default half) are sent, then the socket is destroyed. */
  | { kind: 'truncate'; bytes?: number }
  /** Other bytes than the response promises (same length and ETag; each byte flipped unless `body` is given). */
  | { kind: 'wrong-bytes'; body?: string | Buffer };

/** One request as the server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

/** A running fake upstream. */
export interface FakeUpstream {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in order. */
  readonly requests: SeenRequest[];
  /** Requests being answered right now, and the most there have been at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Serves `path` (a sequence: one per request, the last one repeating); null removes it (404). */
  set(path: string, response: FakeResponse | FakeResponse[] | null): void;
  /** Answers every path under `prefix` with `handler` (after faults), e.g. proxying to a real server. */
  forward(prefix: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): void;
  /** Injects a fault on `path` ('*': every path) for the next `times` requests (default: until cleared). */
  fault(path: string, fault: Fault, opts?: { times?: number }): void;
  /** Removes the faults of `path`, or all of them. */
  clearFaults(path?: string): void;
  /** Requests for `path` so far (any method, query ignored). */
  hits(path: string): number;
  /** Forgets the requests seen (counts and in-flight maximum). */
  resetHits(): void;
  /** Stops listening and drops open connections: new connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Armed {
  fault: Fault;
  left: number;
}

/** A quoted strong ETag for a body. */
export function etagOf(body: string | Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}

/** Starts a fake upstream on 127.0.0.1 on a free port. */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const routes = new Map<string, { seq: FakeResponse[]; next: number }>();
  const forwards = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();
  const faults = new Map<string, Armed[]>();
  const requests: SeenRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** The fault for this request, if one is armed (path first, then '*'); counts it down. */
  const takeFault = (path: string): Fault | null => {
    for (const key of [path, '*']) {
      const list = faults.get(key);
      const armed = list?.[0];
      if (!list || !armed) continue;
      if (--armed.left <= 0) list.shift();
      return armed.fault;
    }
    return null;
  };

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => {
    const fault = takeFault(path);
    if (fault?.kind === 'reset') return req.socket.destroy();
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
      return res.end(fault.body ?? `fault ${fault.status}`);
    }
    const forward = [...forwards].find(([prefix]) => path.startsWith(prefix))?.[1];
    if (forward) {
      if (fault?.kind === 'slow' && fault.stage !== 'body') return later(fault.ms, () => forward(req, res));
      return forward(req, res);
    }
    const route = routes.get(path);
    const response = route ? route.seq[Math.min(route.next++, route.seq.length - 1)] : undefined;
    if (!response) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    const body = Buffer.from(response.body ?? '');
    const etag = response.etag === false ? undefined : (response.etag ?? etagOf(body));
    const headers: Record<string, string> = { ...response.headers };
    if (etag) headers.etag = etag;
    if (response.lastModified) headers['last-modified'] = response.lastModified;
    const status = response.status ?? 200;
    const fresh =
      status === 200 &&
      ((etag !== undefined && req.headers['if-none-match'] === etag) ||
        (response.lastModified !== undefined && req.headers['if-modified-since'] === response.lastModified));
    const send = () => {
      if (fresh) return res.writeHead(304, headers).end();
      res.writeHead(status, response.chunked ? headers : { 'content-length': String(body.length), ...headers });
      if (req.method === 'HEAD') return res.end();
      if (fault?.kind === 'truncate') {
        const part = body.subarray(0, fault.bytes ?? Math.floor(body.length / 2));
        return res.write(part, () => later(20, () => req.socket.destroy()));
      }
      if (fault?.kind === 'wrong-bytes') {
        const wrong = fault.body !== undefined ? Buffer.from(fault.body) : Buffer.from(body.map((b) => b ^ 0xff));
        return res.end(wrong);
      }
      if (fault?.kind === 'slow' && fault.stage === 'body') {
        const first = body.subarray(0, Math.min(1, body.length));
        res.write(first);
        return later(fault.ms, () => res.end(body.subarray(first.length)));
      }
      res.end(body);
    };
    if (fault?.kind === 'slow' && fault.stage !== 'body') later(fault.ms, send);
    else send();
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (!done) inFlight--;
      done = true;
    };
    res.on('close', finish);
    answer(req, res, path);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  await listen(0);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    set(path, response) {
      if (response === null) routes.delete(path);
      else routes.set(path, { seq: Array.isArray(response) ? response : [response], next: 0 });
    },
    forward(prefix, handler) {
      forwards.set(prefix, handler);
    },
    fault(path, fault, opts = {}) {
      const list = faults.get(path) ?? [];
      list.push({ fault, left: opts.times ?? Infinity });
      faults.set(path, list);
    },
    clearFaults(path) {
      if (path === undefined) faults.clear();
      else faults.delete(path);
    },
    hits(path) {
      return requests.filter((r) => r.path === path).length;
    },
    resetHits() {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    stop,
    start: () => listen(port),
    close: stop,
  };
}
