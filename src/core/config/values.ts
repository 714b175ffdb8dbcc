/**
 * Value parsers and the schemas of larder.toml's shape (shape.ts).
 * Parsers throw an Error whose message says what was expected; `parsed` turns that into an issue.
 */
import { BazelPolicySchema } from './bazel-policy.js';
import { OutboundSchema } from './outbound.js';
import { array, boolean, int, oneOf, optional, parsed, partial, string, table, union, unknown, withDefault, type Output } from './shape.js';
import { parseDuration, parseSize } from '../units.js';

const FORMATS = ['cargo', 'bazel', 'julia', 'moonbit', 'brioche'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Quotes strings, names other values by kind: for "got ..." in messages, which must not dump whole tables. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined || v === null) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date'; // smol-toml's TomlDate
  if (typeof v === 'object') return 'a table';
  return String(v);
}

// ---------------------------------------------------------------------------
// Field parsers.

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v.trim());
  if (!m || Number(m[3]) > 65535) {
    throw new Error(`expected HOST:PORT with a port from 0 to 65535 (e.g. "127.0.0.1:8080" or "[::1]:8080"), got ${show(v)}`);
  }
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** sqlite with a null path means DATA/larder.db, decided once `data` is known. */
export type DatabaseSetting = { kind: 'sqlite'; path: string | null } | { kind: 'postgres'; url: string };

function parseDatabase(v: string): DatabaseSetting {
  if (v === 'sqlite') return { kind: 'sqlite', path: null };
  if (v.startsWith('sqlite:') && v.length > 'sqlite:'.length) return { kind: 'sqlite', path: v.slice('sqlite:'.length) };
  if (/^postgres(ql)?:\/\//.test(v) && URL.canParse(v)) return { kind: 'postgres', url: v };
  // Hide a password that may sit in a mistyped URL.
  const safe = v.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  throw new Error(`expected "sqlite", "sqlite:PATH" or "postgres://user:pass@host:5432/db", got ${show(safe)}`);
}

function parseBlobs(v: string): string {
  if (v === 'fs' || (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/|\?|$)/.test(v) && URL.canParse(v))) return v;
  throw new Error(`expected "fs" (files under data/blobs) or "s3://bucket/prefix?endpoint=URL&region=R&path_style=true", got ${show(v)}`);
}

function parseHttpUrl(v: string): string {
  const url = URL.canParse(v) ? new URL(v) : null;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new Error(`expected an http(s) URL, got ${show(v)}`);
  return v;
}

function parsePublicUrl(v: string): string | null {
  return v === '' ? null : parseHttpUrl(v).replace(/\/+$/, '');
}

function parseRepoName(v: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(v)) {
    throw new Error(`expected 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, got ${show(v)}`);
  }
  return v;
}

function nonEmpty(v: string): string {
  if (v === '') throw new Error('expected a path, got ""');
  return v;
}

// ---------------------------------------------------------------------------
// Schema: the TOML shape. Strict tables, so a typo is an error rather than a silently ignored key.

const size = parsed(unknown(), (v) => parseSize(v as string | number));
// An empty cert/key (as `larder init` writes) means unset.
const optionalPath = parsed(string(), (v) => v || undefined);
const duration = parsed(string(), parseDuration);

const RepoSchema = table({
  name: parsed(string(), parseRepoName),
  format: oneOf(FORMATS),
  kind: oneOf(['hosted', 'proxy', 'group'] as const),
  visibility: withDefault(oneOf(['public', 'private'] as const), 'public'),
  // Cargo writes sparse index URLs as `sparse+https://…`; the prefix is accepted here and dropped by the format.
  upstream: optional(parsed(string(), (v) => (v.startsWith('sparse+') ? `sparse+${parseHttpUrl(v.slice(7))}` : parseHttpUrl(v)))),
  members: optional(array(string())),
  mirrors: optional(array(parsed(string(), parseHttpUrl))),
  // Proxies: how long a mutable document is served before the upstream is asked again, how old a
  // version must be before clients see it, and whether the upstream may be contacted at all.
  ttl: optional(duration),
  cooldown: optional(duration),
  offline: optional(boolean()),
  // Public hosted repos: a directory or s3://bucket/prefix that receives every public index document as a file.
  static_origin: optional(string({ min: 1 })),
  // Hosted Bazel repos: what a publish may describe (source types, URL rules, presubmit, compatibility_level).
  bazel_policy: optional(BazelPolicySchema),
  // Cargo repos (the git index): squash the history past this many commits; seal one commit per this window at most.
  git_squash_after: optional(int({ min: 1 })),
  git_batch: optional(duration),
});
const TlsSchema = partial(
  table({
    mode: oneOf(['off', 'self-signed', 'files'] as const),
    cert: optionalPath,
    key: optionalPath,
    hostnames: array(string()),
  }),
);
const LimitsSchema = partial(
  table({
    max_crate_size: size,
    max_unpacked_size: size,
    max_archive_entries: int({ min: 1 }),
    max_metadata_size: size,
    max_archive_size: size,
  }),
);

// A duration ("30s", "5m", "1h30m") or a number of seconds; 0 turns the timeout off.
const timeout = parsed(unknown(), (v) => {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.round(v * 1000);
  if (v === '0') return 0;
  if (typeof v !== 'string') throw new Error(`expected a duration such as "30s" or "5m" (or 0 for none), got ${show(v)}`);
  return parseDuration(v);
});
const TimeoutsSchema = partial(
  table({
    idle: timeout,
    headers: timeout,
    body_idle: timeout,
    request: timeout,
    drain: timeout,
    shutdown: timeout,
  }),
);

// [http2]: what the TLS server's HTTP/2 sessions announce (SETTINGS) and the connection window (http/h2-settings.ts).
const Http2Schema = partial(
  table({
    // RFC 9113 §6.5.2 advises at least 100; 2^31 - 1 is the largest SETTINGS value.
    max_concurrent_streams: int({ min: 1, max: 2 ** 31 - 1 }),
    // At least the protocol's 65,535 bytes, at most 2^31 - 1 (RFC 9113 §6.9.1).
    window: parsed(unknown(), (v) => {
      const bytes = parseSize(v as string | number);
      if (bytes < 65_535 || bytes > 2 ** 31 - 1)
        throw new Error(`expected a size from 65535 bytes to 2GiB - 1 (e.g. "1MiB"), got ${show(v)}`);
      return bytes;
    }),
  }),
);

// [uploads]: the one bound on memory held by uploads buffered at once (registry/upload-budget.ts).
const UploadsSchema = partial(
  table({
    memory: size,
    wait: duration,
  }),
);

// [cache]: memory budgets of in-process caches.
const CacheSchema = partial(
  table({
    index_documents: size,
  }),
);

/** [unpacked_limits]: per-format unpacked sizes; an unset key falls back to limits.max_unpacked_size. */
const UnpackedLimitsSchema = partial(
  table({
    crate: size,
    julia_package: size,
    julia_artifact: size,
    bazel_source: size,
    moonbit_module: size,
  }),
);
export const SettingsSchema = partial(
  table({
    listen: parsed(string(), parseListen),
    data: parsed(string(), nonEmpty),
    database: parsed(string(), parseDatabase),
    blobs: parsed(string(), parseBlobs),
    public_url: parsed(string(), parsePublicUrl),
    log_level: oneOf(LOG_LEVELS),
    workers: union(int({ min: 1, max: 256 }), oneOf(['auto'] as const)),
    tls: TlsSchema,
    limits: LimitsSchema,
    unpacked_limits: UnpackedLimitsSchema,
    repos: array(RepoSchema),
    outbound: OutboundSchema,
    timeouts: TimeoutsSchema,
    http2: Http2Schema,
    uploads: UploadsSchema,
    cache: CacheSchema,
  }),
);

/** What one source (file, environment, command line) sets. */
export type Layer = Output<typeof SettingsSchema>;

/** Top-level and table keys, by table path ('' = top level): the candidates for "did you mean". */
export const KNOWN_KEYS: Record<string, string[]> = {
  '': Object.keys(SettingsSchema.shape),
  tls: Object.keys(TlsSchema.shape),
  limits: Object.keys(LimitsSchema.shape),
  unpacked_limits: Object.keys(UnpackedLimitsSchema.shape),
  repos: Object.keys(RepoSchema.shape),
  'repos.bazel_policy': Object.keys(BazelPolicySchema.shape),
  outbound: Object.keys(OutboundSchema.shape),
  timeouts: Object.keys(TimeoutsSchema.shape),
  http2: Object.keys(Http2Schema.shape),
  uploads: Object.keys(UploadsSchema.shape),
  cache: Object.keys(CacheSchema.shape),
};
