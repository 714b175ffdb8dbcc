import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

// Shared with the tests' harness.
export { freePort } from '../../test/support/net.js';

/** Resolves once something accepts connections on the port. */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Peak resident set size of a process so far (Linux /proc VmHWM). */
export function peakRssOf(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  // Right after spawn (before exec) the status has no VmHWM yet: no sample, rather than a NaN that poisons the maximum.
  if (!kb) throw new Error('no VmHWM yet');
  return Number(kb[1]) * 1024;
}

/** Resident memory of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

/** Stops a child and waits for it to exit (SIGKILL after a grace period). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion, collecting its output. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * CPU seconds (user + system) used so far by a process and its children that are still running (nginx and
 * `workers = "auto"` serve from children); divided by requests it is the cost of one request, which a busy
 * shared machine changes far less than req/s.
 */
export function cpuSeconds(pid: number): number {
  return cpuTimes(pid).total;
}

/** `cpuSeconds`, and the user time within it (the process's own code; the rest is the kernel's, e.g. socket I/O). */
export function cpuTimes(pid: number): { total: number; user: number } {
  const ticks = (p: string) => {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name, 0-based from `state`: ppid = 1, utime = 11, stime = 12.
    return { ppid: Number(f[1]), user: Number(f[11]), system: Number(f[12]) };
  };
  let total = 0;
  let user = 0;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const t = ticks(p);
      if (Number(p) === pid || t.ppid === pid) {
        total += t.user + t.system;
        user += t.user;
      }
    } catch {
      // Exited meanwhile.
    }
  }
  // USER_HZ
  return { total: total / 100, user: user / 100 };
}
