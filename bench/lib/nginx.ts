import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, rssBytes, stopChild, waitForPort } from './procs.js';

export interface NginxProcess {
  url: string;
  port: number;
  pid: number;
  rss(): number;
  stop(): Promise<void>;
}

/**
 * Runs nginx as the peer: static files from `root` (URL path = file path), its default
 * worker count, access log on, optional TLS + HTTP/2, optional WebDAV PUT (`davRoot`).
 */
export async function startNginx(opts: {
  dir: string;
  root: string;
  tls?: { cert: string; key: string };
  davRoot?: string;
  extra?: string;
}): Promise<NginxProcess> {
  const port = await freePort();
  fs.mkdirSync(path.join(opts.dir, 'logs'), { recursive: true });
  const listen = opts.tls
    ? `listen 127.0.0.1:${port} ssl http2;\n    ssl_certificate ${opts.tls.cert};\n    ssl_certificate_key ${opts.tls.key};`
    : `listen 127.0.0.1:${port};`;
  const conf = `
worker_processes auto;
pid ${opts.dir}/nginx.pid;
error_log ${opts.dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${opts.dir}/logs/access.log;
  client_body_temp_path ${opts.dir}/body;
  proxy_temp_path ${opts.dir}/proxy;
  fastcgi_temp_path ${opts.dir}/fastcgi;
  uwsgi_temp_path ${opts.dir}/uwsgi;
  scgi_temp_path ${opts.dir}/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 256;
  types { application/json json; application/gzip crate; }
  default_type text/plain;
  client_max_body_size 100m;
  server {
    ${listen}
    root ${opts.root};
    ${opts.davRoot ? `location /dav/ { root ${opts.davRoot}; dav_methods PUT; create_full_put_path on; }` : ''}
    ${opts.extra ?? ''}
  }
}
`;
  const confPath = path.join(opts.dir, 'nginx.conf');
  fs.writeFileSync(confPath, conf);
  const child = spawn('nginx', ['-p', opts.dir, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nginx exited with ${code}: ${stderr}`))));
  await Promise.race([waitForPort(port), exited]);
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    // The master process is idle; the workers hold the memory.
    rss: () => rssBytes(child.pid!),
    stop: () => stopChild(child, 'SIGQUIT'),
  };
}
