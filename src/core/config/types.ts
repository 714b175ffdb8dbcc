/** The config's public shapes: what loadConfig returns and what callers may override. */

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
}
export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
export type TlsConfig = { mode: 'off' } | { mode: 'self-signed'; hostnames: string[] } | { mode: 'files'; cert: string; key: string };
/** Per-format unpacked-size limits ([unpacked_limits]): what fits a crate is not what fits a Bazel source archive. */
export interface UnpackedLimits {
  crate: number | null;
  juliaPackage: number | null;
  juliaArtifact: number | null;
  bazelSource: number | null;
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
  /** Absolute path of the larder.toml that was read, or null. */
  file: string | null;
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

/** Used when larder.toml defines no [[repos]]: a hosted repo per implemented format. */
export const DEFAULT_REPOS: RepoConfig[] = [
  { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
  { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
  { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' },
];
