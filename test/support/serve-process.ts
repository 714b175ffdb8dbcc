import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './net.js';

export interface ServeProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** Sends SIGTERM and waits for the process to exit. */
  stop(): Promise<void>;
}

/** Runs `larder serve` (bin/larder.js: `npm run build` first) on a free 127.0.0.1 port until it printed its banner. */
export async function startServeProcess(
  data: string,
  opts: { adminToken: string; args?: string[]; env?: Record<string, string> },
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.resolve('bin/larder.js'), 'serve', '--data', data, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...(opts.args ?? [])],
    {
      env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: opts.adminToken, ...opts.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('Metrics:')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`larder serve exited with ${code}: ${out}`)));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
