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
  /**
   * Larder's stdout is the log file itself (`larder serve >> larder.log`), as nginx writes its access log: no third
   * process copies the lines on the machine's shared cores. Readiness is then seen by polling the file (startupMs in
   * 5 ms steps), so cold-start keeps the pipe.
   */
  logToFile?: boolean;
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
  const logPath = path.join(opts.data, 'larder.log');
  const log = fs.openSync(logPath, 'a');
  const logStart = fs.fstatSync(log).size;
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: opts.data,
    env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, ...opts.env },
    stdio: ['ignore', opts.logToFile ? log : 'pipe', log],
  });
  // The child has the log file as its own stdout and stderr now.
  if (opts.logToFile) fs.closeSync(log);
  let banner = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`larder exited with ${code} before serving:\n${banner}`)));
    if (opts.logToFile) {
      const poll = setInterval(() => {
        banner = fs.readFileSync(logPath).subarray(logStart).toString();
        if (!banner.includes('Metrics:')) return;
        clearInterval(poll);
        resolve();
      }, 5);
      child.once('exit', () => clearInterval(poll));
      return;
    }
    child.stdout!.on('data', (c: Buffer) => {
      banner += c.toString();
      if (banner.includes('Metrics:')) resolve();
    });
  });
  const startupMs = performance.now() - started;
  if (!opts.logToFile) {
    // After the banner everything is request logs: keep them, like nginx's access log.
    child.stdout!.removeAllListeners('data');
    child.stdout!.pipe(fs.createWriteStream('', { fd: log }));
  }
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
