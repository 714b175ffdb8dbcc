/**
 * The git peer of the read-path benchmark: bare repositories served by git's own `git http-backend` behind
 * nginx + fcgiwrap (the setup git's documentation gives), and a clone timer that drives any smart-HTTP URL.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startNginx, type NginxProcess } from './nginx.js';
import { run, stopChild } from './procs.js';
import { median } from './stats.js';

/** nginx in front of fcgiwrap running `git http-backend` for every repository under `projectRoot` at `/git/`. */
export async function startGitHttpBackend(opts: { dir: string; projectRoot: string }): Promise<NginxProcess> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const socket = path.join(opts.dir, 'fcgiwrap.sock');
  fs.rmSync(socket, { force: true });
  // As many CGI children as clones run at once, so no clone waits for a free one.
  const fcgi = spawn('fcgiwrap', ['-c', '8', '-s', `unix:${socket}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; !fs.existsSync(socket); i++) {
    if (fcgi.exitCode !== null || i > 200) throw new Error('fcgiwrap did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  // nginx's workers run as an unprivileged user.
  fs.chmodSync(socket, 0o666);
  const nginx = await startNginx({
    dir: path.join(opts.dir, 'nginx'),
    root: opts.dir,
    extra: `location ~ ^/git(/.*)$ {
      client_max_body_size 0;
      fastcgi_pass unix:${socket};
      fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
      fastcgi_param GIT_PROJECT_ROOT ${opts.projectRoot};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param GIT_CONFIG_NOSYSTEM 1;
      fastcgi_param PATH_INFO $1;
      fastcgi_param QUERY_STRING $args;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param CONTENT_TYPE $content_type;
      fastcgi_param CONTENT_LENGTH $content_length;
      fastcgi_param GIT_PROTOCOL $http_git_protocol;
      fastcgi_param HTTP_CONTENT_ENCODING $http_content_encoding;
      fastcgi_param REMOTE_ADDR $remote_addr;
      fastcgi_buffering off;
    }`,
  });
  return {
    ...nginx,
    stop: async () => {
      await nginx.stop();
      await stopChild(fcgi);
    },
  };
}

export interface CloneTimes {
  /** Seconds per clone (median over every clone). */
  medianS: number;
  /** Clones finished per second of wall time, `concurrency` at a time. */
  perSecond: number;
  clones: number;
}

/**
 * Clones `url` (bare: the server's part of a clone, without a checkout) `rounds` times with `concurrency` clones at
 * once, each into a fresh directory; every clone must succeed and have `expectTree` at HEAD when given.
 */
export async function timeClones(
  url: string,
  opts: { dir: string; concurrency: number; rounds: number; expectTree?: string },
): Promise<CloneTimes> {
  const env = { PATH: process.env.PATH, HOME: opts.dir, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
  const times: number[] = [];
  let n = 0;
  const started = performance.now();
  for (let r = 0; r < opts.rounds; r++) {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        const dest = path.join(opts.dir, `clone-${n++}.git`);
        const t0 = performance.now();
        const res = await run('git', ['clone', '--quiet', '--bare', url, dest], { env });
        times.push((performance.now() - t0) / 1000);
        if (res.code !== 0) throw new Error(`git clone ${url} failed: ${res.stderr}`);
        if (opts.expectTree) {
          const tree = (await run('git', ['--git-dir', dest, 'rev-parse', 'HEAD^{tree}'], { env })).stdout.trim();
          if (tree !== opts.expectTree) throw new Error(`git clone ${url}: HEAD's tree is ${tree}, not ${opts.expectTree}`);
        }
        fs.rmSync(dest, { recursive: true, force: true });
      }),
    );
  }
  const wall = (performance.now() - started) / 1000;
  return { medianS: median(times), perSecond: times.length / wall, clones: times.length };
}
