/**
 * A mooncakes.io-like upstream for MoonBit proxy tests, on one base URL as a custom registry has it:
 * `{url}/git/index` is a real git repository over smart HTTP (git http-backend), everything else
 * (zips at `/user/<user>%2F<name>%2F<version>.zip`, `symbols.zip`, `assets/…`) is a fake upstream
 * whose answers and faults the test sets.
 *
 *   const up = await startMoonbitUpstream();
 *   const sum = up.module('alice/json', '0.1.0', { deps: { 'alice/utf8': '0.1.0' } }); // zip served, line queued
 *   await up.commit();                  // the queued files become one upstream commit on main
 *   up.files.fault('/user/alice%2Fjson%2F0.1.0.zip', { kind: 'wrong-bytes' });
 *   up.hangGit = true;                  // git requests are accepted and never answered
 *   await up.stop(); await up.start();  // connection refused, then back on the same port
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { archiveUrlPath } from '../../src/formats/moonbit/names.js';
import { makeZip } from './archives.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startGitServer, type GitServer } from './git-server.js';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

export interface MoonbitUpstream {
  /** The registry base (`http://127.0.0.1:PORT`): index at `${url}/git/index`, zips at `${url}/user/…`. */
  readonly url: string;
  /** Everything but the git index: set answers and faults here. */
  readonly files: FakeUpstream;
  /** The work tree of the upstream index repository (branch main). */
  readonly work: string;
  /** Requests for the git index so far. */
  readonly gitHits: number;
  /** While true, git requests are accepted and never answered (a hung upstream). */
  hangGit: boolean;
  /** Writes files (null deletes) into the work tree without committing. */
  write(files: Record<string, string | Buffer | null>): void;
  /** Serves a zip for a module version and appends its index line (not committed); returns the line's checksum. */
  module(
    module: string,
    version: string,
    opts?: { deps?: Record<string, unknown> | null; zip?: Buffer },
  ): { checksum: string; zip: Buffer };
  /** Commits the work tree on main (even when nothing changed: an empty upstream commit); returns the commit id. */
  commit(message?: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A small real zip of a module (moon.mod.json at the root). */
export function moduleZip(module: string, version: string): Buffer {
  return makeZip([
    { name: 'moon.mod.json', data: Buffer.from(JSON.stringify({ name: module, version })) },
    { name: 'src/lib.mbt', data: Buffer.from(`// ${module}@${version}\n`) },
  ]);
}

/** Starts the upstream with an empty index repository (no commit yet: `commit()` makes the first). */
export async function startMoonbitUpstream(): Promise<MoonbitUpstream> {
  const root = tempDir('larder-moon-upstream-');
  const work = path.join(root.path, 'index');
  fs.mkdirSync(work);
  const git = (...a: string[]) =>
    run('git', ['-C', work, '-c', 'user.email=up@example.com', '-c', 'user.name=up', '-c', 'core.autocrlf=false', ...a], {
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    });
  await git('init', '-q', '--initial-branch=main');
  const gitServer: GitServer = await startGitServer(root.path);
  const files = await startFakeUpstream();
  let gitHits = 0;
  const sockets = new Set<Socket>();
  const state = { hangGit: false };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, target: string) => {
    const out = http.request(target, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/git/index')) {
      gitHits++;
      if (state.hangGit) return;
      return forward(req, res, `${gitServer.url}${url.slice('/git'.length)}`);
    }
    forward(req, res, `${files.url}${url}`);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  const write = (changes: Record<string, string | Buffer | null>) => {
    for (const [p, body] of Object.entries(changes)) {
      const file = path.join(work, p);
      if (body === null) fs.rmSync(file, { force: true });
      else {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, body);
      }
    }
  };

  return {
    url: `http://127.0.0.1:${port}`,
    files,
    work,
    get gitHits() {
      return gitHits;
    },
    get hangGit() {
      return state.hangGit;
    },
    set hangGit(v: boolean) {
      state.hangGit = v;
    },
    write,
    module(module, version, opts = {}) {
      const zip = opts.zip ?? moduleZip(module, version);
      const checksum = createHash('sha256').update(zip).digest('hex');
      files.set(`/${archiveUrlPath(module, version)}`, { body: zip, headers: { 'content-type': 'application/zip' } });
      const line = JSON.stringify({ name: module, version, deps: opts.deps === undefined ? {} : opts.deps, checksum });
      const file = path.join(work, `user/${module}.index`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.appendFileSync(file, `${line}\n`);
      return { checksum, zip };
    },
    async commit(message = 'publish') {
      await git('add', '-A');
      await git('commit', '-q', '--allow-empty', '-m', message);
      return (await git('rev-parse', 'HEAD')).stdout.trim();
    },
    stop,
    start: () => listen(port),
    async close() {
      await stop();
      await files.close();
      await gitServer.close();
      root.remove();
    },
  };
}
