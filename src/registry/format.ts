import type { FastifyInstance } from 'fastify';
import type { Format, RepoConfig } from '../core/config.js';
import type { DialectMigration } from '../storage/db.js';
import type { PackageRef } from './owners.js';
import type { Registry } from './registry.js';
import type { Repo } from './repos.js';

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

/**
 * Index documents the HTTP layer may answer straight from the cache for one public repo:
 * URLs under `prefix` whose rest `docPath` maps to a document path.
 */
export interface FastIndexRoute {
  repoId: number;
  repo: string;
  format: string;
  /** e.g. `/cargo/index/` */
  prefix: string;
  /** The document path for the rest of the URL, or null when the route must decide. */
  docPath(rest: string): string | null;
  contentType: string;
  cacheControl: string;
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

/** The one interface through which a format plugs into Larder. */
export interface FormatPlugin {
  format: Format;
  /** The repository kinds this format serves; Larder refuses to start a repo of another kind. */
  kinds: ReadonlyArray<RepoConfig['kind']>;
  /** Tables the format owns; names start with the format's name. */
  migrations: DialectMigration[];
  /** Registers the repo's routes; Larder mounts them under `/{repo.name}`. */
  routes(app: FastifyInstance, opts: { registry: Registry; repo: Repo }): Promise<void>;
  clientSetup(repo: Repo, baseUrl: string, opts: ClientSetupOptions): ClientSetup;
  /** Creates what a new repo of this format must have (idempotent; runs at every open). */
  initRepo?(registry: Registry, repo: Repo): Promise<void>;
  /** Cached documents of this repo that need no route logic (public reads), if any. */
  fastIndex?(repo: Repo): FastIndexRoute | null;
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
}
