/** The config's public shapes: what loadConfig returns and what callers may override. */
import type { BazelPolicy } from './bazel-policy.js';
import type { OutboundConfig } from './outbound.js';

export type { OutboundConfig } from './outbound.js';
export type { BazelPolicy } from './bazel-policy.js';

export type Format = 'cargo' | 'bazel' | 'julia' | 'moonbit' | 'brioche';
export interface RepoConfig {
  name: string;
  format: Format;
  kind: 'hosted' | 'proxy' | 'group';
  visibility: 'public' | 'private';
  upstream?: string;
  members?: string[];
  /** Bazel hosted repos: archive mirror base URLs written once into bazel_registry.json. */
  mirrors?: string[];
  /** Proxies: milliseconds a mutable document is served before revalidation (default 10 minutes). */
  ttl?: number;
  /** Proxies: milliseconds a version must have existed upstream before clients see it (default 0). */
  cooldown?: number;
  /** Proxies: never contact the upstream; serve only what is cached. */
  offline?: boolean;
  /**
   * Public hosted repos: a directory (absolute) or `s3://bucket/prefix` where every public index document is
   * also written as a file at the path clients request it under, for nginx or a CDN to serve (static_origin).
   */
  staticOrigin?: string;
  /** Hosted Bazel repos: what a publish may describe (bazel_policy; unset = the BCR's rules, BCR_POLICY). */
  bazelPolicy?: BazelPolicy;
  /** Repos with a git view (Cargo's git index): commits after which the history is squashed into one (default 1000). */
  gitSquashAfter?: number;
  /** Repos with a git view: milliseconds after a commit before the next one is sealed (a burst of writes makes one; default 1 s). */
  gitBatch?: number;
}
export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
export type TlsConfig = { mode: 'off' } | { mode: 'self-signed'; hostnames: string[] } | { mode: 'files'; cert: string; key: string };
/** Per-format unpacked-size limits ([unpacked_limits]): what fits a crate is not what fits a Bazel source archive. */
export interface UnpackedLimits {
  crate: number | null;
  juliaPackage: number | null;
  juliaArtifact: number | null;
  bazelSource: number | null;
  moonbitModule: number | null;
}
export interface LarderConfig {
  listen: { host: string; port: number };
  /** Absolute. */
  data: string;
  /** A sqlite path is absolute. */
  database: DatabaseConfig;
  /** "fs" (DATA/blobs) or an s3:// URL (several nodes share blobs there). */
  blobs: string;
  /** External base URL without a trailing slash; null = derive it from each request. */
  publicUrl: string | null;
  logLevel: string;
  /** Server processes sharing the port (`workers = "auto"`: one per CPU). */
  workers: number;
  /** File paths are absolute. */
  tls: TlsConfig;
  limits: { maxCrateSize: number; maxUnpackedSize: number; maxArchiveEntries: number; maxMetadataSize: number; maxArchiveSize: number };
  /** How much one upload of each kind may unpack to; null = `limits.maxUnpackedSize` (see unpacked-limits.ts). */
  unpackedLimits: UnpackedLimits;
  repos: RepoConfig[];
  /** [outbound]: what URLs named by requests may reach, and the CA trusted there. */
  outbound: OutboundConfig;
  /** Connection and request timeouts in milliseconds; 0 turns one off. */
  timeouts: TimeoutsConfig;
  /** [http2]: what the HTTP/2 server (TLS) announces in its SETTINGS frame and its connection window. */
  http2: Http2Config;
  /** [uploads]: bytes of request bodies buffered at once (all repos of a process), and how long an upload waits for room before a 503. */
  uploads: { memory: number; waitMs: number };
  /** [cache]: bytes of memory each process may spend on cached index documents (an LRU; see registry/index-docs.ts). */
  cache: { indexDocuments: number };
  /** Absolute path of the larder.toml that was read, or null. */
  file: string | null;
}
/** `[timeouts]`: how long a client may keep a connection or a request waiting (milliseconds, 0 = never). */
export interface TimeoutsConfig {
  /** An open connection with no request in flight (HTTP/1.1 keep-alive, an HTTP/2 session without streams). */
  idleMs: number;
  /** Receiving a request's headers (HTTP/1.1). */
  headersMs: number;
  /** An upload whose body stops arriving: answered 408 (HTTP/1.1) or 408 and reset (HTTP/2). */
  bodyIdleMs: number;
  /** Receiving a whole request, body included (HTTP/1.1 and each HTTP/2 stream); downloads are not limited. */
  requestMs: number;
  /** After SIGTERM: how long /-/readyz answers 503 while requests are still served, so a load balancer stops sending new ones. */
  drainMs: number;
  /** Then: how long in-flight requests may take to finish before their connections are closed. */
  shutdownMs: number;
}
/** `[http2]`: limits a TLS server's HTTP/2 sessions announce to clients (http/h2-settings.ts). */
export interface Http2Config {
  /** Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); a client queues the rest. */
  maxConcurrentStreams: number;
  /** Bytes of request body a client may send ahead of the server's reading: per stream, and per connection. */
  windowBytes: number;
}

export interface ConfigOverrides {
  listen?: string;
  data?: string;
  database?: string;
  publicUrl?: string;
  /** "off" | "self-signed" */
  tls?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  /** A number or "auto". */
  workers?: string;
}

/**
 * Default `[http2]`: 128 streams per connection (nginx's default; Node's own is unlimited, so one connection could hold
 * thousands of requests in memory at once) and a 1 MiB receive window per stream and per connection (Node's is the
 * protocol's 64 KiB, which caps an upload at 64 KiB per round trip: 1.3 MB/s at 50 ms).
 */
export const DEFAULT_HTTP2: Http2Config = { maxConcurrentStreams: 128, windowBytes: 2 ** 20 };

/**
 * Default `[cache] index_documents`: 64 MiB, sized for a small server (a few hundred MB of RAM, one or two
 * workers, each holding its own copy); tens of thousands of typical index files fit, and the rest is read from
 * the database by primary key.
 */
export const DEFAULT_INDEX_CACHE_BYTES = 64 * 2 ** 20;

/** Used when larder.toml defines no [[repos]]: a hosted repo per implemented format. */
export const DEFAULT_REPOS: RepoConfig[] = [
  { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
  { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
  { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
  { name: 'moonbit', format: 'moonbit', kind: 'hosted', visibility: 'public' },
  { name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public' },
];
