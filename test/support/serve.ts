import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli.js';
import { TEST_ADMIN_TOKEN } from './larder.js';
import { freePort } from './net.js';

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:{port}` (or https with `tls`). */
  url: string;
  port: number;
  /** Everything the process printed. */
  output(): string;
  /** kill -9: no shutdown code runs. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit (a clean shutdown). */
  stop(): Promise<void>;
}

/**
 * Runs a real `larder serve` (bin/larder.js; `npm run build` first) on 127.0.0.1 with the test
 * admin token, and resolves once its banner is printed. `args` adds flags (`--database`, `--workers`).
 */
export async function startServeProcess(opts: {
  cwd: string;
  data: string;
  args?: string[];
  port?: number;
  tls?: boolean;
  /** Extra environment; LARDER_TIMEOUTS_DRAIN defaults to 0 here so stopping a test server is quick. */
  env?: Record<string, string>;
}): Promise<ServeProcess> {
  const port = opts.port ?? (await freePort());
  const args = [
    BIN,
    'serve',
    '--data',
    opts.data,
    '--listen',
    `127.0.0.1:${port}`,
    '--tls',
    opts.tls ? 'self-signed' : 'off',
    '--log-level',
    'warn',
    ...(opts.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LARDER_TIMEOUTS_DRAIN: '0', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`larder serve did not start within 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      if (out.includes('Metrics:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`larder serve exited with ${code}:\n${out}`));
    });
  });
  return {
    child,
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    output: () => out,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
