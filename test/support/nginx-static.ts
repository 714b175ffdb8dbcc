/**
 * nginx run from the static origin configuration the deployment guide ships (docs/deploy/nginx-static-origin.conf):
 * only its paths (root, pid, logs, temp dirs), its listen address and the Larder upstream's address are replaced,
 * so what the tests and the benchmark show holds for that file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureTools } from './debian.js';
import { freePort } from './net.js';

export const DEPLOY_NGINX_STATIC_CONF = path.resolve(import.meta.dirname, '../../docs/deploy/nginx-static-origin.conf');

export interface StaticNginx {
  url: string;
  port: number;
  pid: number;
  /** The access log so far. */
  accessLog(): string;
  stop(): Promise<void>;
}

/** The deployment file with this run's addresses; throws if the file no longer has a line this replaces. */
export function staticNginxConf(opts: { dir: string; root: string; port: number; larderPort: number }): string {
  let conf = fs.readFileSync(DEPLOY_NGINX_STATIC_CONF, 'utf8');
  const replace = (from: string, to: string) => {
    if (conf.split(from).length !== 2) throw new Error(`${DEPLOY_NGINX_STATIC_CONF}: expected one "${from}"`);
    conf = conf.replace(from, to);
  };
  replace('worker_processes auto;', `worker_processes auto;\npid ${opts.dir}/nginx.pid;\nerror_log ${opts.dir}/error.log warn;`);
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${opts.dir}/${t};`).join('\n    ');
  replace('access_log /var/log/nginx/larder-static.access.log;', `access_log ${opts.dir}/access.log;\n    ${temps}`);
  replace('server 127.0.0.1:8080;', `server 127.0.0.1:${opts.larderPort};`);
  replace('listen 80;', `listen 127.0.0.1:${opts.port};`);
  replace('root /srv/larder-static;', `root ${opts.root};`);
  return conf;
}

/** Starts nginx (installed from Debian's package when missing) serving `root` in front of Larder on `larderPort`. */
export async function startStaticNginx(opts: { dir: string; root: string; larderPort: number }): Promise<StaticNginx> {
  ensureTools(['nginx']);
  const port = await freePort();
  fs.mkdirSync(opts.dir, { recursive: true });
  const confPath = path.join(opts.dir, 'nginx.conf');
  fs.writeFileSync(confPath, staticNginxConf({ ...opts, port }));
  const child = spawn('nginx', ['-p', opts.dir, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    const up = await fetch(`${url}/-/healthz`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i > 200) throw new Error(`nginx did not listen: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    pid: child.pid!,
    accessLog: () => fs.readFileSync(path.join(opts.dir, 'access.log'), 'utf8'),
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
    },
  };
}
