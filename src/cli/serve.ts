import type { Command } from 'commander';
import type { ConfigOverrides } from '../core/config.js';
import { startLarder, type RunningLarder } from '../http/start.js';
import { configFrom, FORMATS, withStorageOptions, type StorageFlags } from './context.js';

interface ServeFlags extends StorageFlags, ConfigOverrides {}

/** The banner `larder serve` prints: where it listens and how each client is configured. */
export function startBanner(running: RunningLarder): string {
  const { registry, url, caCertPath, adminToken } = running;
  const cfg = registry.config;
  const out: string[] = [];
  out.push(`Larder is serving on ${url}`);
  out.push(`  data:     ${cfg.data}`);
  out.push(`  database: ${cfg.database.kind === 'sqlite' ? `SQLite ${cfg.database.path}` : 'PostgreSQL'}`);
  if (caCertPath) {
    out.push('', `TLS uses a local CA. Trust it with:`, `  export CARGO_HTTP_CAINFO=${caCertPath}      # cargo`, `  curl --cacert ${caCertPath} ${url}/-/healthz`);
  }
  if (adminToken) {
    out.push('', 'Admin token (shown once; store it now):', `  ${adminToken}`);
  }
  for (const repo of registry.repos.values()) {
    const setup = registry.formats.get(repo.format)?.clientSetup(repo, url, { caCertPath: caCertPath ?? undefined });
    if (!setup) continue;
    out.push('', `Repository "${repo.name}" (${repo.format}, ${repo.kind}, ${repo.visibility}): ${setup.url}`);
    out.push(...setup.snippet.split('\n').map((l) => `  ${l}`));
  }
  out.push('', `Health: ${url}/-/healthz   Metrics: ${url}/-/metrics`, '');
  return out.join('\n');
}

/** `larder serve`. */
export function serveCommand(program: Command): void {
  withStorageOptions(program.command('serve').description('run the registry server'))
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:8080)')
    .option('--public-url <url>', 'external base URL, when behind a proxy')
    .option('--tls <mode>', '"self-signed" (local CA under DATA/tls) or "off"')
    .option('--tls-cert <file>', 'PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (flags: ServeFlags) => {
      const config = configFrom(flags);
      const running = await startLarder(config, { formats: FORMATS, adminToken: process.env.LARDER_ADMIN_TOKEN || undefined });
      process.stdout.write(startBanner(running));
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        running.app.log.info({ signal }, 'shutting down');
        await running.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
