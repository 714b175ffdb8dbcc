import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Times are milliseconds since the epoch, as numbers, in both SQLite and PostgreSQL. */
export type Millis = number;

export interface ReposTable {
  id: Generated<number>;
  name: string;
  format: string;
  kind: string;
  visibility: string;
  created_at: Millis;
}

export interface UsersTable {
  id: Generated<number>;
  login: string;
  name: string | null;
  is_admin: number;
  created_at: Millis;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  /** sha256 hex of the token; the token itself is shown once and never stored. */
  token_hash: string;
  /** First characters of the token, so a user can tell tokens apart in a list. */
  prefix: string;
  scopes: string;
  repo_pattern: string | null;
  package_pattern: string | null;
  expires_at: Millis | null;
  last_used_at: Millis | null;
  created_at: Millis;
  revoked_at: Millis | null;
}

export interface BlobsTable {
  sha256: string;
  size: number;
  created_at: Millis;
}

export interface IndexDocsTable {
  repo_id: number;
  path: string;
  body: Uint8Array;
  etag: string;
  updated_at: Millis;
  /** Set by an import: the stat of the file the document was read from (`IndexDocs.putMany`); null once written otherwise. */
  import_stat: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Millis;
  user_id: number | null;
  repo_id: number | null;
  action: string;
  subject: string;
  detail: string | null;
}

/** Which index documents a commit changed, for other processes on the same SQLite file (registry/sqlite-changes.ts). */
export interface IndexChangesTable {
  id: Generated<number>;
  repo_id: number;
  path: string;
  at: Millis;
  /** The writing process, which needs no reminder of its own changes. */
  origin: string;
}

/** One owner of one package: `package` is the format's canonical id (see registry/owners.ts). */
export interface PackageOwnersTable {
  repo_id: number;
  package: string;
  user_id: number;
  created_at: Millis;
}

/** What a proxy knows of each upstream document: its upstream ETag, when it was last confirmed, and whether the upstream has it. */
export interface ProxyDocsTable {
  repo_id: number;
  path: string;
  /** 200: the body is in index_docs; 404: the upstream said it has no such document. */
  status: number;
  upstream_etag: string | null;
  fetched_at: number;
  /** 1 when the format says the document never changes (`docLifetime`): it is never revalidated, so never stale. */
  immutable: Generated<number>;
}

/** An artifact a proxy fetched, verified and stored, under the format's artifact key. */
export interface ProxyArtifactsTable {
  repo_id: number;
  key: string;
  sha256: string;
  size: number;
  fetched_at: number;
}

/** The latest upstream outcome of a proxy (any node): when it last answered, when it last failed and why. */
export interface ProxyHealthTable {
  repo_id: number;
  ok_at: Millis | null;
  failed_at: Millis | null;
  /** The failure as a client was told it (never an upstream body). */
  failure: string | null;
}

/** When a proxy first saw each version a document lists (cooldown), 0 for versions present at the first fetch. */
export interface ProxyVersionsTable {
  repo_id: number;
  path: string;
  version: string;
  first_seen: number;
}

/** What fetched documents promised about artifacts they name (the Bazel archive mirror's URL → integrity). */
export interface ProxyPromisesTable {
  repo_id: number;
  key: string;
  url: string;
  sha256: string | null;
  sri: string | null;
}

/**
 * One commit of a deterministic git history (registry/git-history): a repo holds any number of
 * histories by name. The commit id is a function of these rows alone (and the files they name).
 */
export interface GitHistoryTable {
  id: Generated<number>;
  repo_id: number;
  history: string;
  /** The whole tree after this commit, as a git tree id the format can produce; null when `git_history_files` lists the changes. */
  tree: string | null;
  message: string;
  /** Seconds since the epoch: the author and committer time of the commit. */
  at: number;
}

/**
 * A document path of a repo changed since its git view (registry/git-history/view.ts) last committed; `changes`
 * only counts, so a writer's upsert locks the row and the view's delete waits for that writer's commit.
 */
export interface GitViewPendingTable {
  repo_id: number;
  path: string;
  changes: number;
}

/** A file a commit adds, replaces (`body`) or removes (`body` null), by UTF-8 path. */
export interface GitHistoryFilesTable {
  commit_id: number;
  path: string;
  /** `100644`, `100755` or `120000` (a symlink; `body` is the target). */
  mode: string;
  body: Uint8Array | null;
}

/**
 * An S3 access key (Brioche's cache writes through Larder's S3-compatible endpoint), bound to a token:
 * it acts as that token's principal and stops working when the token is revoked or expires.
 */
export interface S3KeysTable {
  access_key_id: string;
  token_id: number;
  /** Kept as is, not hashed: SigV4 verification recomputes an HMAC keyed by the secret (registry/s3-keys.ts). */
  secret: string;
  created_at: Millis;
}

/**
 * One package of one repo as search sees it (registry/search): written inside the publish/yank transaction.
 * The full-text index over name, description and keywords is the FTS5 table `search_fts` (SQLite) or the
 * generated column `search_vector` (PostgreSQL); neither is declared here (raw SQL only).
 */
export interface SearchEntriesTable {
  id: Generated<number>;
  repo_id: number;
  format: string;
  /** The format's canonical package id (as in package_owners); unique per repo. */
  package: string;
  /** The name people know the package by (display spelling). */
  name: string;
  /** `name` folded for exact and prefix matching: lower case, `-` as `_` (registry/search/query.ts `nameKey`). */
  name_key: string;
  description: string | null;
  /** Space-separated keywords (empty when the format has none). */
  keywords: string;
  latest_version: string | null;
  updated_at: Millis;
}

/** A package's latest version depends on `dependency_key` (a name folded as search's `nameKey`). */
export interface SearchDependenciesTable {
  repo_id: number;
  package: string;
  dependency_key: string;
}

/** A browser session (web/): the cookie's hash, the token it acts as, its CSRF token. */
export interface WebSessionsTable {
  id: Generated<number>;
  session_hash: string;
  token_id: number;
  csrf: string;
  created_at: Millis;
  expires_at: Millis;
}

/** A README as published, per version (Markdown; rendered and sanitised when shown). */
export interface PackageReadmesTable {
  repo_id: number;
  package: string;
  version: string;
  markdown: string;
}

/** Downloads of one version (`version` is '' when an artifact names no version), flushed from memory in batches. */
export interface PackageDownloadsTable {
  repo_id: number;
  package: string;
  version: string;
  count: number;
}

/** The tables every format shares; a format adds its own with `db.withTables<…>()`. */
export interface Database {
  proxy_docs: ProxyDocsTable;
  proxy_artifacts: ProxyArtifactsTable;
  proxy_versions: ProxyVersionsTable;
  proxy_promises: ProxyPromisesTable;
  proxy_health: ProxyHealthTable;
  repos: ReposTable;
  users: UsersTable;
  tokens: TokensTable;
  blobs: BlobsTable;
  index_docs: IndexDocsTable;
  audit_log: AuditLogTable;
  index_changes: IndexChangesTable;
  package_owners: PackageOwnersTable;
  git_history: GitHistoryTable;
  git_history_files: GitHistoryFilesTable;
  git_view_pending: GitViewPendingTable;
  s3_keys: S3KeysTable;
  search_entries: SearchEntriesTable;
  search_dependencies: SearchDependenciesTable;
  web_sessions: WebSessionsTable;
  package_readmes: PackageReadmesTable;
  package_downloads: PackageDownloadsTable;
}

export type RepoRow = Selectable<ReposTable>;
export type UserRow = Selectable<UsersTable>;
export type TokenRow = Selectable<TokensTable>;
export type NewToken = Insertable<TokensTable>;
