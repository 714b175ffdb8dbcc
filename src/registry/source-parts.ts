/**
 * What a format supplies to the shared sources (DESIGN.md, "The seam"): small, format-specific
 * answers. Hosted, proxy and group sources are written once and ask these.
 */
import type { Readable } from 'node:stream';
import type { SearchEntry } from './search/index.js';
import type { HistoryTip } from './git-history/state.js';
import type { Registry } from './registry.js';
import type { Repo } from './repos.js';
import type { SourceArtifact, SourceDoc } from './source.js';

/** How a hosted repo finds its artifacts and packages in the format's own tables. */
export interface HostedParts {
  /** The blob an artifact key names in a hosted repo, or null. */
  artifact(registry: Registry, repo: Repo, key: string): Promise<{ sha256: string; size: number } | null>;
  /** Whether a hosted repo holds a package, compared the way the ecosystem compares names (Cargo: case, `-`/`_`). */
  hasPackage(registry: Registry, repo: Repo, pkg: string): Promise<boolean>;
}

/** Where an artifact comes from upstream and what its bytes must be, as the index documents promise. */
export interface ArtifactOrigin {
  url: string;
  /**
   * True when the URL is the operator's configured upstream (trusted wherever it points); false for a
   * URL a document names on some other host, which keeps the [outbound] address rules.
   */
  trusted: boolean;
  /** Lower-case hex sha256 the bytes must have (Cargo `cksum`). */
  sha256?: string;
  /** A Subresource Integrity string the bytes must match (Bazel source.json `integrity`). */
  sri?: string;
  /** A format check over the bytes (Julia's git tree hash); rejects with a LarderError when they are wrong. */
  check?: (body: Readable) => Promise<void>;
  /** Size bound for this artifact; the repo's archive limit otherwise. */
  maxSize?: number;
  /** What it is, for messages: `crate serde@1.0.0`. */
  what: string;
  /** Request headers the upstream needs to answer in a form the check can read (Julia: `Accept-Encoding: gzip`). */
  headers?: Record<string, string>;
}

/** A version a document lists, with the upstream's publish time when the document states one. */
export interface VersionStamp {
  version: string;
  publishedAt?: number;
}

/** An artifact a document names, with what it must hash to: recorded when the document is fetched. */
export interface ArtifactPromise {
  key: string;
  url: string;
  sha256?: string;
  sri?: string;
}

/** A proxy repo's view of itself, handed to the format's proxy parts. */
export interface ProxyContext {
  registry: Registry;
  repo: Repo;
  /** The upstream base URL, normalised by `ProxyParts.upstreamBase`. */
  upstream: string;
  /** A document through this proxy (cached, revalidated, stale-if-error). */
  doc(path: string): Promise<SourceDoc | null>;
  /** An artifact through this proxy (fetched and verified once, then stored). */
  artifact(key: string): Promise<SourceArtifact | null>;
  /** The files of the last sync of the upstream git repository (formats with `ProxyParts.upstreamGit`), synced first when due. */
  gitTip(): Promise<HistoryTip>;
  /** What a fetched document promised about an artifact key (see `ProxyParts.promises`), or null. */
  promise(key: string): Promise<ArtifactPromise | null>;
}

/** What one package needs in an offline mirror: fetched documents, artifacts to fetch, packages it depends on. */
export interface MirrorPlan {
  artifacts: string[];
  dependencies: string[];
}

/** A proxy's search entry for one package document: search_entries without the repo and format (the proxy adds them). */
export type ProxySearchEntry = Omit<SearchEntry, 'repoId' | 'format' | 'updatedAt'>;

/** How a format's proxy talks to its upstream. */
export interface ProxyParts {
  /** Used when `upstream` is not configured. */
  defaultUpstream: string;
  /** The configured upstream as a base URL (Cargo drops `sparse+`); the default strips one trailing slash. */
  upstreamBase?(configured: string): string;
  /**
   * When the upstream's documents are the files of a git repository (MoonBit's index): which history
   * of the proxy copies it, and the repository's URL and branch. Documents are then read from that
   * copy (src/upstream/git-upstream.ts), synced at most once per TTL, and `docUrl` is not asked.
   */
  upstreamGit?: { history: string; branch: string; url(upstream: string): string };
  /** The upstream URL of a document path, or null when that path is never fetched (a 404; with `upstreamGit`: read from git). */
  docUrl(upstream: string, path: string): string | null;
  /** `immutable` for documents that never change once published; `mutable` ones are revalidated after the repo's TTL. */
  docLifetime(path: string): 'immutable' | 'mutable';
  /**
   * The artifacts a document names, when their key alone does not lead back to the document (Bazel's
   * archive mirror: a URL → the source.json integrity). Recorded as the document is stored.
   */
  promises?(path: string, body: Buffer): ArtifactPromise[];
  /** Where an artifact comes from and what it must hash to, read from this proxy's documents; null when nothing names it. */
  artifactOrigin(ctx: ProxyContext, key: string): Promise<ArtifactOrigin | null>;
  /** The versions a document lists (for cooldown); documents without versions return []. */
  versions?(path: string, body: Buffer): VersionStamp[];
  /** The document without the listed versions (cooldown hides versions younger than the repo's `cooldown`); null when none is left. */
  withoutVersions?(path: string, body: Buffer, hidden: ReadonlySet<string>): Buffer | null;
  /**
   * What search records for a package document fetched from the upstream (name, latest version, description,
   * dependencies), or null when `path` is not a package's document. Proxies index what they hold, so search
   * and the web UI find cached and mirrored packages.
   */
  searchEntry?(path: string, body: Buffer): ProxySearchEntry | null;
  /** Fetches one package's documents through `ctx` and says which artifacts and dependencies it needs (`larder mirror`). */
  mirrorPackage(ctx: ProxyContext, pkg: string): Promise<MirrorPlan | null>;
  /** Every package the upstream has, for `--full` and glob patterns; absent when the upstream cannot list them. */
  listPackages?(ctx: ProxyContext): AsyncIterable<string>;
}

/** How a group merges what its members say. */
export interface GroupParts {
  /** For a list document (Julia's `/registries`, Bazel's `bazel_registry.json`): the merged body of the members' copies; undefined for other paths. */
  mergeDoc?(path: string, members: Array<{ repo: Repo; doc: SourceDoc }>): Buffer | undefined;
}

/**
 * A git view of the repo's documents (Cargo's git index, registry/git-history/view.ts): hosted and proxy repos
 * commit the documents they hold, groups the union of their members'.
 */
export interface GitViewParts {
  /** The history's name, as routes ask `Source.gitHistory` for it. */
  history: string;
  /** The branch HEAD names. */
  branch: string;
  /** Whether a document path belongs in the view. */
  includes(path: string): boolean;
  /** Files at the root that are not documents (Cargo's config.json), for clients reaching the repo at `baseUrl`. */
  rootFiles(repo: Repo, baseUrl: string): Array<{ path: string; data: Buffer }>;
  /** The base URL recorded root files were built for (kept while `public_url` is unset), or null when they say none. */
  recordedBase(repo: Repo, files: ReadonlyMap<string, { data: Uint8Array }>): string | null;
}

/** Everything a format supplies to the sources. */
export interface SourceParts {
  /** The package a document path belongs to, in the format's canonical spelling; null for repo-level documents. */
  packageOfDoc(path: string): string | null;
  /** The package an artifact key belongs to; null when the key does not say (content-addressed keys). */
  packageOfArtifact(key: string): string | null;
  /**
   * The package (canonical id, as package_owners spells it) and version a download of this artifact counts for,
   * or null when the key is no package version's archive (content-addressed caches, registry tarballs). The
   * version is '' when the key does not say which one (Julia's tarballs are named by tree hash).
   */
  downloadOf?(key: string): { package: string; version: string } | null;
  /** The document whose existence means a source has the package (Cargo's index file), if the format has one. */
  packageDoc?(pkg: string): string | null;
  hosted: HostedParts;
  proxy?: ProxyParts;
  group?: GroupParts;
  gitView?: GitViewParts;
}
