import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { ConfigOverrides, LarderConfig } from '../core/config.js';
import { runPrimary } from '../http/cluster.js';
import { clientBaseUrl, prepareLarder, startLarder } from '../http/start.js';
import type { Registry } from '../registry/registry.js';
import { configFrom, FORMATS, STORAGE_OPTIONS, withStorageOptions, type StorageFlags } from './context.js';

interface ServeFlags extends StorageFlags, ConfigOverrides {}

export interface BannerInfo {
  registry: Registry;
  url: string;
  caCertPath: string | null;
  adminToken: string | null;
  workers: number;
}

/** The banner `larder serve` prints: where it listens and how each client is configured. */
export function startBanner({ registry, url, caCertPath, adminToken, workers }: BannerInfo): string {
  const cfg = registry.config;
  const out: string[] = [];
  out.push(`Larder is serving on ${url}${workers > 1 ? ` (${workers} worker processes)` : ''}`);
  out.push(`  web UI:   ${url}/   (browse, search, sign in, tokens)`);
  out.push(`  data:     ${cfg.data}`);
  out.push(`  database: ${cfg.database.kind === 'sqlite' ? `SQLite ${cfg.database.path}` : 'PostgreSQL'}`);
  if (caCertPath) {
    out.push(
      '',
      `TLS uses a local CA. Trust it with:`,
      `  export CARGO_HTTP_CAINFO=${caCertPath}      # cargo`,
      `  curl --cacert ${caCertPath} ${url}/-/healthz`,
    );
  }
  if (adminToken) {
    out.push('', `Admin token (shown once; store it now; it also signs in at ${url}/-/sign-in):`, `  ${adminToken}`);
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

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits. SIGTERM (systemd, Kubernetes, a rolling
 * restart) drains first; SIGINT (Ctrl-C at a terminal) does not wait for a load balancer.
 */
function onShutdown(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void stop(signal).finally(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function serveSingle(config: LarderConfig): Promise<void> {
  const running = await startLarder(config, { formats: FORMATS, adminToken: process.env.LARDER_ADMIN_TOKEN || undefined });
  if (cluster.isWorker) {
    // The primary printed the banner; a disconnect from it means shut down.
    process.on('disconnect', () => void running.close().finally(() => process.exit(0)));
    onShutdown((signal) => (signal === 'SIGTERM' ? running.drain() : running.close()));
    return;
  }
  process.stdout.write(startBanner({ ...running, workers: 1 }));
  // A node starts without its blob store (it serves index files meanwhile), but the operator should hear of it.
  running.registry.blobs
    .check()
    .catch((err: unknown) => running.app.log.warn({ err: (err as Error).message }, 'the blob store cannot be used now'));
  onShutdown(async (signal) => {
    const drainMs = signal === 'SIGTERM' ? config.timeouts.drainMs : 0;
    running.app.log.info({ signal, drainMs }, drainMs > 0 ? 'draining: /-/readyz answers 503, then shutting down' : 'shutting down');
    await (signal === 'SIGTERM' ? running.drain() : running.close());
  });
}

async function servePrimary(config: LarderConfig): Promise<void> {
  const prepared = await prepareLarder(config, { formats: FORMATS, adminToken: process.env.LARDER_ADMIN_TOKEN || undefined });
  cluster.setupPrimary({ exec: process.argv[1], args: process.argv.slice(2) });
  const primary = runPrimary(config.workers, (port) => {
    const url = clientBaseUrl(config, prepared.tls !== null, port);
    process.stdout.write(startBanner({ ...prepared, url, workers: config.workers }));
  });
  onShutdown(async (signal) => {
    await primary.stop(signal);
    await prepared.registry.close();
  });
}

/** The options of `larder serve` besides STORAGE_OPTIONS: commander's flags and description. */
const SERVE_OPTIONS: ReadonlyArray<readonly [flags: string, description: string]> = [
  ['--listen <host:port>', 'address to listen on (default 127.0.0.1:8080)'],
  ['--public-url <url>', 'external base URL, when behind a proxy'],
  ['--tls <mode>', '"self-signed" (local CA under DATA/tls) or "off"'],
  ['--tls-cert <file>', 'PEM certificate (with --tls-key)'],
  ['--tls-key <file>', 'PEM private key'],
  ['--workers <n>', 'server processes sharing the port: a number or "auto" (one per CPU)'],
  ['--log-level <level>', 'fatal, error, warn, info, debug, trace or silent'],
];

/** `larder serve`. */
export function serveCommand(program: Command): void {
  const cmd = withStorageOptions(program.command('serve').description('run the registry server'));
  for (const [flags, description] of SERVE_OPTIONS) cmd.option(flags, description);
  cmd.action(serve);
}

/** What `larder serve` does with its flags. */
export async function serve(flags: ServeFlags): Promise<void> {
  const config = configFrom(flags);
  if (config.workers > 1 && cluster.isPrimary) await servePrimary(config);
  else await serveSingle(config);
}

/** Long option → flag name, as commander names it (`--public-url` → `publicUrl`), for the options that take a value. */
const VALUE_OPTIONS = new Map(
  [...STORAGE_OPTIONS, ...SERVE_OPTIONS].flatMap(([flags]) => {
    const long = /(--[a-z-]+) </.exec(flags)?.[1];
    return long ? [[long, long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] as const] : [];
  }),
);

/**
 * The flags of `larder serve ARGS` when ARGS are only `--option value` pairs of its options, each given once (how
 * services, containers and tests start it), the same commander would give; null for anything else (help, short or
 * `=` forms, an unknown option, a value that starts with `-`), which commander then parses. A server's start need not
 * load commander (cold start, issue 14).
 */
export function quickServeFlags(args: readonly string[]): ServeFlags | null {
  if (args.length % 2 !== 0) return null;
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = VALUE_OPTIONS.get(args[i]!);
    const value = args[i + 1]!;
    if (!name || name in flags || value.startsWith('-')) return null;
    flags[name] = value;
  }
  return flags as ServeFlags;
}
