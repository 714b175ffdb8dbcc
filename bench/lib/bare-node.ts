import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { rssBytes, stopChild } from './procs.js';

/**
 * The bare Node peer of index-read and read-paths: what Node's own HTTP stacks do with no application around them.
 * A `node:http` server (HTTP/1.1) and a `node:http2` secure server (TLS + h2, allowHTTP1) in one
 * process answer the same bytes from a Map keyed by URL, with the header set Larder sends
 * (index-read: x-request-id, etag, last-modified, cache-control, content-type, content-length; read-paths: the headers
 * Larder answered each URL with, captured by `writeBareResponses`) and If-None-Match → 304. Run as its own process
 * (`startBareNode`) so it never shares the bench's event loop.
 */

/** One URL's response: its body, validator and header sets. */
export interface BareEntry {
  body: Buffer;
  etag: string;
  /** Every header but the request id, for a 200 and for a 304. */
  full: Record<string, string | number>;
  notModified: Record<string, string | number>;
}

const LAST_MODIFIED = new Date(Date.UTC(2025, 0, 1)).toUTCString();

/** One response to copy: its URL path, the headers to send (in order; no x-request-id, date or connection) and body. */
export interface BareResponse {
  url: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

const MANIFEST = 'bare-responses.json';
/** Headers a server adds per response or per connection: the bare server makes its own. */
const PER_RESPONSE = new Set(['x-request-id', 'date', 'connection', 'keep-alive', 'transfer-encoding']);
/** Headers a 304 leaves out (RFC 9110 §15.4.5 keeps the validators and caching headers). */
const BODY_HEADERS = new Set(['content-type', 'content-length', 'accept-ranges']);

/** Writes responses for `startBareNode({ root: dir })` to serve instead of the files under a root. */
export function writeBareResponses(dir: string, responses: BareResponse[]): void {
  fs.mkdirSync(path.join(dir, 'bodies'), { recursive: true });
  const manifest = responses.map((r, i) => {
    fs.writeFileSync(path.join(dir, 'bodies', String(i)), r.body);
    return { url: r.url, headers: r.headers.filter(([name]) => !PER_RESPONSE.has(name.toLowerCase())), body: String(i) };
  });
  fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest));
}

/** The responses `writeBareResponses` wrote, as Map entries. */
function loadResponses(dir: string): Map<string, BareEntry> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Array<{
    url: string;
    headers: Array<[string, string]>;
    body: string;
  }>;
  const map = new Map<string, BareEntry>();
  for (const m of manifest) {
    const full = Object.fromEntries(m.headers);
    map.set(m.url, {
      body: fs.readFileSync(path.join(dir, 'bodies', m.body)),
      etag: full.etag ?? '',
      full,
      notModified: Object.fromEntries(m.headers.filter(([name]) => !BODY_HEADERS.has(name.toLowerCase()))),
    });
  }
  return map;
}

/** Loads every file under `root` into a Map keyed by its URL path. */
function load(root: string): Map<string, BareEntry> {
  const map = new Map<string, BareEntry>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const body = fs.readFileSync(p);
        const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
        const common = { etag, 'last-modified': LAST_MODIFIED, 'cache-control': 'no-cache' };
        map.set('/' + path.relative(root, p).split(path.sep).join('/'), {
          body,
          etag,
          full: { ...common, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length },
          notModified: common,
        });
      }
    }
  };
  walk(root);
  return map;
}

/**
 * Bare Node's handlers over `files`: for a request (HTTP/1.1, and HTTP/2 through the compatibility layer) and for a raw
 * HTTP/2 stream. The server process runs them; bench fast-path times them against Larder's fast path.
 */
export function bareHandlers(files: Map<string, BareEntry>) {
  let counter = 0;
  // The same length as a UUID, so header bytes match Larder's.
  const prefix = `${process.pid.toString(16).padStart(8, '0')}-0000-4000-8000-`;
  const nextId = () => prefix + (++counter).toString(16).padStart(12, '0');
  const answer = (url: string | undefined, inm: string | string[] | undefined) => {
    const e = url === undefined ? undefined : files.get(url);
    if (!e) return null;
    const fresh = e.etag !== '' && inm === e.etag;
    return {
      status: fresh ? 304 : 200,
      headers: { 'x-request-id': nextId(), ...(fresh ? e.notModified : e.full) },
      body: fresh ? null : e.body,
    };
  };
  const request = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const a = answer(req.url, req.headers['if-none-match']);
    if (!a) {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
      return;
    }
    res.writeHead(a.status, a.headers);
    (res as http.ServerResponse).end(a.body ?? undefined);
  };
  const stream = (s: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    const a = answer(headers[':path'], headers['if-none-match']);
    if (!a) {
      s.respond({ ':status': 404 }, { endStream: true });
      return;
    }
    s.respond({ ':status': a.status, ...a.headers }, { endStream: a.body === null });
    if (a.body) s.end(a.body);
  };
  return { request, stream };
}

/** The child process: listens, prints `READY <h1 port> <h2 port>`, serves until killed. */
function serve(root: string, cert: string, key: string): void {
  const files = fs.existsSync(path.join(root, MANIFEST)) ? loadResponses(root) : load(root);
  const { request: onRequest, stream: onStream } = bareHandlers(files);
  const h1 = http.createServer({ keepAliveTimeout: 60_000 }, onRequest);
  // Whole bodies are written at once (a 2 MiB registry tarball on each of 10 streams): past Node's default 10 MB of
  // session memory the session refuses new streams, where Larder streams from its blob store with backpressure.
  const h2 = http2.createSecureServer({ cert, key, allowHTTP1: true, maxSessionMemory: 256 });
  h2.on('request', onRequest);
  // h2 streams on the raw stream API (as Larder's fast path), h1 fallback through 'request'.
  h2.removeAllListeners('stream');
  h2.on('stream', onStream);
  // Exit (rather than die) on SIGTERM, so `--cpu-prof` writes its profile.
  process.once('SIGTERM', () => process.exit(0));
  h1.listen(0, '127.0.0.1', () => {
    h2.listen(0, '127.0.0.1', () => {
      const port = (s: http.Server | http2.Http2SecureServer) => (s.address() as { port: number }).port;
      process.stdout.write(`READY ${port(h1)} ${port(h2)}\n`);
    });
  });
}

export interface BareNodeProcess {
  /** http://127.0.0.1:PORT (HTTP/1.1) */
  h1Url: string;
  /** https://127.0.0.1:PORT (TLS + h2, HTTP/1.1 fallback) */
  h2Url: string;
  pid: number;
  rss(): number;
  stop(): Promise<void>;
}

/**
 * Starts the bare Node server over the files under `root` (URL path = file path), or the responses
 * `writeBareResponses` wrote there, with this certificate.
 */
export async function startBareNode(opts: {
  root: string;
  certPath: string;
  keyPath: string;
  /** Node options before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}): Promise<BareNodeProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--import', 'tsx', import.meta.filename, 'serve', opts.root, opts.certPath, opts.keyPath],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ports = await new Promise<[number, number]>((resolve, reject) => {
    let out = '';
    let ready = false;
    child.stdout!.on('data', (c: Buffer) => {
      // After READY, what the server prints (Node options such as --trace-gc print to stdout) goes to the bench's stderr.
      if (ready) return void process.stderr.write(c);
      out += c.toString();
      const m = /READY (\d+) (\d+)/.exec(out);
      if (m) {
        ready = true;
        const rest = out.slice(m.index + m[0].length).replace(/^\n/, '');
        if (rest) process.stderr.write(rest);
        resolve([Number(m[1]), Number(m[2])]);
      }
    });
    child.once('exit', (code) => reject(new Error(`bare Node server exited with ${code}: ${out}`)));
  });
  return {
    h1Url: `http://127.0.0.1:${ports[0]}`,
    h2Url: `https://127.0.0.1:${ports[1]}`,
    pid: child.pid!,
    rss: () => rssBytes(child.pid!),
    stop: () => stopChild(child),
  };
}

if (process.argv[2] === 'serve' && process.argv[1] === import.meta.filename) {
  serve(process.argv[3], fs.readFileSync(process.argv[4], 'utf8'), fs.readFileSync(process.argv[5], 'utf8'));
}
