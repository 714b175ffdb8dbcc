import { execFileSync, spawnSync } from 'node:child_process';

/** Debian packages that provide each tool a benchmark runs. */
const PACKAGES: Record<string, string> = {
  nginx: 'nginx-light',
  h2load: 'nghttp2-client',
  wrk: 'wrk',
  hyperfine: 'hyperfine',
};

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Installs the missing tools from Debian's packages (the benchmarks run as root here). */
export function ensureTools(tools: string[]): void {
  const missing = tools.filter((t) => !has(t));
  if (missing.length === 0) return;
  const pkgs = missing.map((t) => PACKAGES[t] ?? t);
  process.stderr.write(`installing ${pkgs.join(', ')} with apt-get…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  // Debian starts the nginx service on install; the benchmarks run their own.
  spawnSync('sh', ['-c', 'service nginx stop >/dev/null 2>&1 || true']);
  const still = tools.filter((t) => !has(t));
  if (still.length) throw new Error(`could not install ${still.join(', ')}`);
}

/** The first line a tool prints about its version. */
export function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? 'unknown'
  );
}
