import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, rssBytes, stopChild } from './procs.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BENCH_ADMIN_TOKEN = 'larder_bench-admin-token-000000000000';

export interface LarderProcess {
  url: string;
  port: number;
  pid: number;
  caCertPath: string | null;
  /** Milliseconds from spawn until the banner said it was serving. */
  startupMs: number;
  rss(): number;
  stop(): Promise<void>;
}

/**
 * Runs `larder serve` from this checkout's build (dist/) as its own process, as users run it,
 * with request logging on (written to a file in the data dir, like nginx's access log).
 */
export async function startLarder(opts: {
  data: string;
  tls: boolean;
  port?: number;
  env?: Record<string, string>;
  /** Node options before the script, e.g. `--cpu-prof` (which NODE_OPTIONS does not take). */
  nodeArgs?: string[];
  /** Another checkout's build to run (an A/B against it); this checkout's by default. */
  root?: string;
}): Promise<LarderProcess> {
  const root = opts.root ?? ROOT;
  if (!fs.existsSync(path.join(root, 'dist/cli/main.js'))) throw new Error(`build first: npm run build (in ${root})`);
  const port = opts.port ?? (await freePort());
  const args = [
    ...(opts.nodeArgs ?? []),
    path.join(root, 'bin/larder.js'),
    'serve',
    '--data',
    opts.data,
    '--listen',
    `127.0.0.1:${port}`,
    '--tls',
    opts.tls ? 'self-signed' : 'off',
  ];
  const log = fs.openSync(path.join(opts.data, 'larder.log'), 'a');
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: opts.data,
    env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, ...opts.env },
    stdio: ['ignore', 'pipe', log],
  });
  let banner = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      banner += c.toString();
      if (banner.includes('Metrics:')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`larder exited with ${code} before serving:\n${banner}`)));
  });
  const startupMs = performance.now() - started;
  // After the banner everything is request logs: keep them, like nginx's access log.
  child.stdout!.removeAllListeners('data');
  child.stdout!.pipe(fs.createWriteStream('', { fd: log }));
  const scheme = opts.tls ? 'https' : 'http';
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    caCertPath: opts.tls ? path.join(opts.data, 'tls', 'ca.pem') : null,
    startupMs,
    rss: () => rssBytes(child.pid!),
    stop: () => stopChild(child),
  };
}
