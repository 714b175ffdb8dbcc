import type { Readable } from 'node:stream';
import type { Format, RepoConfig } from '../core/config.js';
import type { DialectMigration } from '../storage/db.js';
import type { Principal } from './auth.js';
import type { PackageRef } from './owners.js';
import type { WebParts } from './package-view.js';
import type { Registry } from './registry.js';
import type { Repo } from './repos.js';
import type { SourceParts } from './source-parts.js';

/** What a client needs to be told to use a repo: printed at start and shown in the UI. */
export interface ClientSetup {
  /** A one-line summary, e.g. the index URL. */
  url: string;
  /** The configuration to paste, with a comment saying where it goes. */
  snippet: string;
}

export interface ClientSetupOptions {
  /** The CA certificate clients must trust, when serving a self-signed certificate. */
  caCertPath?: string;
}

/** A blob a repo's rows reference: `larder verify` checks it against the re-hashed store. */
export interface BlobReference {
  sha256: string;
  size: number;
  /** What refers to it, as a user names it: `crate foo@1.0.0`. */
  what: string;
}

/** What a format's `verify` found in one repo. */
export interface RepoVerification {
  /** Counts of what was checked, for the summary: `{ 'index files': 12 }`. */
  checked: Record<string, number>;
  /** One line per problem, naming the document or package and what to do. */
  problems: string[];
  references: BlobReference[];
}

/** A format whose repos are also S3-compatible buckets (Brioche's cache writes, protocols/brioche.md §3.3): bucket = repo name. */
export interface ObjectStoreParts {
  /**
   * Stores an object create-only for `p` (the caller checks the publish scope on the repo first):
   * `created: false` when the key already exists (S3 answers 412). Refuses a key or bytes the format
   * does not accept with a 4xx LarderError, storing nothing. Unless `createOnly` (If-None-Match: *), the body
   * sent for an existing key is compared with the stored object: `sameBytes` (a retried PUT) is a success.
   */
  putObject(
    registry: Registry,
    repo: Repo,
    p: Principal,
    key: string,
    body: Readable,
    options?: { createOnly?: boolean },
  ): Promise<{ created: boolean; sha256: string; sameBytes?: boolean }>;
}

/**
 * What the registry layer needs from a format: its tables, its parts of the hosted/proxy/group
 * sources, and its commands. The HTTP side (routes) is added in http/format-plugin.ts.
 */
export interface FormatCore {
  format: Format;
  /** The repository kinds this format serves; Larder refuses to start a repo of another kind. */
  kinds: ReadonlyArray<RepoConfig['kind']>;
  /** Tables the format owns; names start with the format's name. */
  migrations: DialectMigration[];
  /** The format's small parts of the shared sources (registry/source.ts, upstream/proxy-source.ts, group-source.ts). */
  parts: SourceParts;
  clientSetup(repo: Repo, baseUrl: string, opts: ClientSetupOptions): ClientSetup;
  /**
   * The URL paths, relative to the repo's prefix, at which a public hosted repo serves document `docPath` byte for byte
   * with no route logic (e.g. Cargo `3/s/serde` → `index/3/s/serde`): where a static origin writes it. Empty = none.
   */
  staticPaths?(docPath: string): string[];
  /** Creates what a new repo of this format must have (idempotent; runs at every open). */
  initRepo?(registry: Registry, repo: Repo): Promise<void>;
  /**
   * Checks a repo's index documents against its rows (`larder verify`): each document equals what
   * the rows say it should be, and every blob it relies on is listed in `references`.
   */
  verify?(registry: Registry, repo: Repo): Promise<RepoVerification>;
  /**
   * The package a user names (in the owners API and `larder owner`) as ownership keys it, or null
   * when the repo has no such package. Formats without it have no owners to manage.
   */
  packageRef?(registry: Registry, repo: Repo, name: string): Promise<PackageRef | null>;
  /** Present when the format's repos take object writes through Larder's S3-compatible endpoint. */
  objectStore?: ObjectStoreParts;
  /** Loads the format's package pages in the web UI (registry/package-view.ts): on first use, not at every start. */
  web?: () => Promise<WebParts>;
}
