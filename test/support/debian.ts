/**
 * Debian packages the real-process tests and the benchmarks run (nginx, h2load, HAProxy, Chromium):
 * installed with apt-get when missing, as root, the way a developer would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

/** The Debian package that provides each tool, where its name differs from the tool's. */
const PACKAGES: Record<string, string> = {
  nginx: 'nginx-light',
  h2load: 'nghttp2-client',
  wrk: 'wrk',
  hyperfine: 'hyperfine',
  haproxy: 'haproxy',
  xz: 'xz-utils',
  ar: 'binutils',
};

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Installs the missing tools from Debian's packages (the tests and benchmarks run as root here). */
export function ensureTools(tools: string[]): void {
  const missing = tools.filter((t) => !has(t));
  if (missing.length === 0) return;
  const pkgs = missing.map((t) => PACKAGES[t] ?? t);
  process.stderr.write(`installing ${pkgs.join(', ')} with apt-get…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Test files run two at a time: one apt-get at a time, or the second fails on dpkg's lock.
  const lock = path.join(os.tmpdir(), 'larder-apt-get.lock');
  execFileSync('flock', [lock, 'apt-get', 'update', '-qq'], { stdio: 'inherit', env });
  execFileSync('flock', [lock, 'apt-get', 'install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  // Debian starts the nginx and haproxy services on install; the tests and benchmarks run their own.
  for (const service of ['nginx', 'haproxy'])
    if (missing.includes(service)) spawnSync('sh', ['-c', `service ${service} stop >/dev/null 2>&1 || true`]);
  const still = tools.filter((t) => !has(t));
  if (still.length) throw new Error(`could not install ${still.join(', ')}`);
}
