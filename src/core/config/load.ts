/**
 * Loading: find the file, read every source, overlay them on the defaults and resolve the result.
 * Precedence: defaults < larder.toml < LARDER_* environment < command-line overrides.
 * The file is the one named by the caller (--config) or LARDER_CONFIG, else ./larder.toml if present.
 * Relative paths in the file are resolved against its directory; those from the
 * environment or the command line against the working directory.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { LarderError } from '../errors.js';
import { resolveBazelPolicy, type BazelPolicySettings } from './bazel-policy.js';
import { OUTBOUND_DEFAULTS, resolveOutbound, type OutboundSettings } from './outbound.js';
import { cliSource, envSource, fileSource, type Source } from './sources.js';
import {
  DEFAULT_HTTP2,
  DEFAULT_INDEX_CACHE_BYTES,
  DEFAULT_REPOS,
  type ConfigOverrides,
  type LarderConfig,
  type RepoConfig,
  type TlsConfig,
} from './types.js';
import type { DatabaseSetting, Layer } from './values.js';

/** The merged settings, still in TOML terms. */
interface Settings {
  listen: { host: string; port: number };
  data: string;
  database: DatabaseSetting;
  blobs: string;
  public_url: string | null;
  log_level: string;
  workers: number | 'auto';
  tls: { mode: TlsConfig['mode']; cert?: string; key?: string; hostnames: string[] };
  limits: {
    max_crate_size: number;
    max_unpacked_size: number;
    max_archive_entries: number;
    max_metadata_size: number;
    max_archive_size: number;
  };
  unpacked_limits: { crate?: number; julia_package?: number; julia_artifact?: number; bazel_source?: number; moonbit_module?: number };
  repos: RepoConfig[];
  outbound: OutboundSettings;
  timeouts: { idle: number; headers: number; body_idle: number; request: number; drain: number; shutdown: number };
  http2: { max_concurrent_streams: number; window: number };
  uploads: { memory: number; wait: number };
  cache: { index_documents: number };
}

function defaults(baseDir: string): Settings {
  return {
    listen: { host: '127.0.0.1', port: 8080 },
    data: resolve(baseDir, 'larder-data'),
    database: { kind: 'sqlite', path: null },
    blobs: 'fs',
    public_url: null,
    log_level: 'info',
    workers: 1,
    tls: { mode: 'off', hostnames: [] },
    limits: {
      max_crate_size: 10 * 2 ** 20,
      max_unpacked_size: 512 * 2 ** 20,
      max_archive_entries: 20000,
      max_metadata_size: 2 ** 20,
      max_archive_size: 100 * 2 ** 20,
    },
    unpacked_limits: {},
    repos: DEFAULT_REPOS,
    outbound: OUTBOUND_DEFAULTS,
    timeouts: { idle: 60_000, headers: 30_000, body_idle: 30_000, request: 300_000, drain: 5_000, shutdown: 30_000 },
    http2: { max_concurrent_streams: DEFAULT_HTTP2.maxConcurrentStreams, window: DEFAULT_HTTP2.windowBytes },
    uploads: { memory: 256 * 2 ** 20, wait: 10_000 },
    cache: { index_documents: DEFAULT_INDEX_CACHE_BYTES },
  };
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function overlay(s: Settings, layer: Layer): Settings {
  return {
    ...s,
    ...defined(layer),
    tls: { ...s.tls, ...defined(layer.tls ?? {}) },
    limits: { ...s.limits, ...defined(layer.limits ?? {}) },
    outbound: { ...s.outbound, ...defined(layer.outbound ?? {}) },
    timeouts: { ...s.timeouts, ...defined(layer.timeouts ?? {}) },
    http2: { ...s.http2, ...defined(layer.http2 ?? {}) },
    uploads: { ...s.uploads, ...defined(layer.uploads ?? {}) },
    cache: { ...s.cache, ...defined(layer.cache ?? {}) },
    unpacked_limits: { ...s.unpacked_limits, ...defined(layer.unpacked_limits ?? {}) },
  };
}

function fail(problems: string[]): void {
  if (problems.length) throw new LarderError('CONFIG_INVALID', problems.join('\n'));
}

/** Loads the config: defaults < larder.toml < LARDER_* environment < command-line overrides. Throws CONFIG_INVALID listing every problem. */
export function loadConfig(opts: {
  file?: string;
  cwd: string;
  env: Record<string, string | undefined>;
  overrides?: ConfigOverrides;
}): LarderConfig {
  const { cwd, env } = opts;
  const named = opts.file ?? (env.LARDER_CONFIG || undefined);
  const implicit = join(cwd, 'larder.toml');
  const file = named !== undefined ? resolve(cwd, named) : existsSync(implicit) ? resolve(implicit) : null;
  if (file && !existsSync(file)) throw new LarderError('CONFIG_INVALID', `config file ${file} not found`);

  const problems: string[] = [];
  const sources: Source[] = [];
  if (file) {
    const rel = relative(cwd, file);
    sources.push(fileSource(file, rel.startsWith('..') || isAbsolute(rel) ? file : rel, problems));
  }
  sources.push(envSource(env, problems, cwd), cliSource(opts.overrides ?? {}, problems, cwd));
  fail(problems);

  const s = sources.reduce((acc, src) => overlay(acc, src.layer), defaults(file ? dirname(file) : cwd));
  if (s.tls.mode === 'files' && (!s.tls.cert || !s.tls.key)) {
    const setter = [...sources].reverse().find((src) => src.layer.tls?.mode !== undefined)!;
    problems.push(setter.render({ path: ['tls', 'mode'], message: '"files" needs both tls.cert and tls.key (PEM file paths)' }));
  }
  fail(problems);

  const tls: TlsConfig =
    s.tls.mode === 'files'
      ? { mode: 'files', cert: s.tls.cert!, key: s.tls.key! }
      : s.tls.mode === 'self-signed'
        ? { mode: 'self-signed', hostnames: s.tls.hostnames }
        : { mode: 'off' };
  return {
    listen: s.listen,
    data: s.data,
    blobs: s.blobs,
    database: s.database.kind === 'sqlite' ? { kind: 'sqlite', path: s.database.path ?? join(s.data, 'larder.db') } : s.database,
    publicUrl: s.public_url,
    logLevel: s.log_level,
    workers: s.workers === 'auto' ? availableParallelism() : s.workers,
    tls,
    limits: {
      maxCrateSize: s.limits.max_crate_size,
      maxUnpackedSize: s.limits.max_unpacked_size,
      maxArchiveEntries: s.limits.max_archive_entries,
      maxMetadataSize: s.limits.max_metadata_size,
      maxArchiveSize: s.limits.max_archive_size,
    },
    unpackedLimits: {
      crate: s.unpacked_limits.crate ?? null,
      juliaPackage: s.unpacked_limits.julia_package ?? null,
      juliaArtifact: s.unpacked_limits.julia_artifact ?? null,
      bazelSource: s.unpacked_limits.bazel_source ?? null,
      moonbitModule: s.unpacked_limits.moonbit_module ?? null,
    },
    // Copies, so no caller can change DEFAULT_REPOS through the result.
    repos: s.repos.map((entry) => {
      const { static_origin, bazel_policy, git_squash_after, git_batch, ...r } = entry as RepoConfig & {
        static_origin?: string;
        bazel_policy?: BazelPolicySettings;
        git_squash_after?: number;
        git_batch?: number;
      };
      const bazelPolicy = bazel_policy ? resolveBazelPolicy(bazel_policy) : r.bazelPolicy;
      return defined({
        ...r,
        members: r.members && [...r.members],
        staticOrigin: static_origin,
        bazelPolicy,
        gitSquashAfter: git_squash_after,
        gitBatch: git_batch,
      });
    }),
    outbound: resolveOutbound(s.outbound),
    timeouts: {
      idleMs: s.timeouts.idle,
      headersMs: s.timeouts.headers,
      bodyIdleMs: s.timeouts.body_idle,
      requestMs: s.timeouts.request,
      drainMs: s.timeouts.drain,
      shutdownMs: s.timeouts.shutdown,
    },
    http2: { maxConcurrentStreams: s.http2.max_concurrent_streams, windowBytes: s.http2.window },
    uploads: { memory: s.uploads.memory, waitMs: s.uploads.wait },
    cache: { indexDocuments: s.cache.index_documents },
    file,
  };
}
