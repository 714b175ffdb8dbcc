/**
 * Git repositories served over smart HTTP(S) by `git http-backend`, on 127.0.0.1: how tests give
 * Larder a git URL to register from now that file:// is refused. HTTPS uses a generated local CA.
 */
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { ensureSelfSignedTls } from '../../src/http/tls.js';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

export interface GitServer {
  /** Base URL, e.g. https://127.0.0.1:PORT (repositories at `${url}/<name>`). */
  url: string;
  /** The CA certificate (PEM path) the HTTPS server's certificate is signed by; null over plain http. */
  caFile: string | null;
  /** Directory the served repositories live in (`${root}/<name>`). */
  root: string;
  /** Requests answered so far. */
  readonly hits: number;
  close(): Promise<void>;
}

/** Commits a directory's files as a new git repository (with a tag) and returns its path. */
export async function commitRepo(dir: string, tag?: string): Promise<string> {
  const git = (...a: string[]) =>
    run('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'core.autocrlf=false', ...a]);
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', tag ?? 'commit');
  if (tag) await git('tag', tag);
  return dir;
}

/**
 * Serves every repository under `root` (non-bare ones too: their .git) over smart HTTP, or HTTPS with
 * `tls`, on `host` (127.0.0.1 unless given); `hits` counts the requests it answered.
 */
export async function startGitServer(
  root: string,
  // protocolV0: ignore Git-Protocol and speak v0, like servers that hand out only commits their refs advertise.
  opts: { tls?: boolean; host?: string; protocolV0?: boolean } = {},
): Promise<GitServer> {
  let hits = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    hits++;
    const url = new URL(req.url ?? '/', 'http://x');
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
        GIT_PROTOCOL: opts.protocolV0 ? '' : String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.stdin.on('error', () => {});
    if (req.method === 'POST') req.pipe(child.stdin);
    else child.stdin.end();
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('close', () => {
      const all = Buffer.concat(out);
      const end = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
      if (end < 0) return void res.writeHead(500).end();
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of all.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        const key = line.slice(0, colon).trim().toLowerCase();
        if (key === 'status') status = Number.parseInt(line.slice(colon + 1), 10) || 200;
        else if (key) headers[key] = line.slice(colon + 1).trim();
      }
      res.writeHead(status, headers).end(all.subarray(end + (all[end] === 0x0d ? 4 : 2)));
    });
  };
  let caFile: string | null = null;
  let certs: { remove(): void } | null = null;
  let server: http.Server | https.Server;
  if (opts.tls) {
    const dir = tempDir('larder-git-tls-');
    certs = dir;
    const tls = await ensureSelfSignedTls(dir.path, opts.host ? [opts.host] : []);
    caFile = tls.caCertPath;
    server = https.createServer({ key: tls.key, cert: tls.cert }, handler);
  } else {
    server = http.createServer(handler);
  }
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    caFile,
    root,
    get hits() {
      return hits;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => {
          certs?.remove();
          r();
        });
      }),
  };
}
