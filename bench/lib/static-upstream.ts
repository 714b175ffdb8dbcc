/**
 * A fake crates.io for the proxy benchmarks: a small static HTTP/1.1 server over a directory (the
 * sparse index files, `config.json`, `.crate` files at `crates/{name}/{version}/download`), counting
 * the requests it answers, so a benchmark can show what reached the upstream during a phase.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** Requests the upstream saw, by what they asked for. */
export interface UpstreamCounts {
  total: number;
  index: number;
  config: number;
  download: number;
  /** Answered 404 (a path with no file behind it). */
  missing: number;
}

export interface StaticUpstream {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  /** A copy of the counts so far (subtract two copies for a phase). */
  counts(): UpstreamCounts;
  close(): Promise<void>;
}

/** `a` minus `b`, field by field: what happened between two `counts()`. */
export function countsSince(a: UpstreamCounts, b: UpstreamCounts): UpstreamCounts {
  return {
    total: a.total - b.total,
    index: a.index - b.index,
    config: a.config - b.config,
    download: a.download - b.download,
    missing: a.missing - b.missing,
  };
}

/** Serves the files under `root` by URL path (GET and HEAD only), with Content-Length; anything else is a 404. */
export async function startStaticUpstream(root: string): Promise<StaticUpstream> {
  const counts: UpstreamCounts = { total: 0, index: 0, config: 0, download: 0, missing: 0 };
  const base = path.resolve(root);
  const server = http.createServer((req, res) => {
    counts.total++;
    const urlPath = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (urlPath === '/config.json') counts.config++;
    else if (urlPath.endsWith('/download')) counts.download++;
    else counts.index++;
    const file = path.join(base, urlPath);
    const notFound = () => {
      counts.missing++;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    };
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !file.startsWith(base + path.sep)) return notFound();
    fs.readFile(file, (err, body) => {
      if (err) return notFound();
      const type = urlPath === '/config.json' ? 'application/json' : urlPath.endsWith('/download') ? 'application/gzip' : 'text/plain';
      res.writeHead(200, { 'content-type': type, 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes the `config.json` of a crates.io-like upstream at `url`: crates are downloaded from `{url}/crates/{name}/{version}/download`. */
export function writeUpstreamConfig(root: string, url: string): void {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify({ dl: `${url}/crates`, api: url }));
}
