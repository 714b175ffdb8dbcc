/**
 * The seam between a format's routes and where its files come from. A route speaks its client's
 * protocol over a Source: documents by path (byte-exact, with an ETag) and artifacts by key, either
 * of which may be marked stale. Hosted (here), proxy and group (src/upstream) implement it once for
 * every format; a format supplies only its SourceParts.
 */
import { LRUCache } from 'lru-cache';
import type { BlobHandle } from '../storage/blobs.js';
import type { GitHistoryRef } from './git-history/record.js';
import { beginHistory } from './git-history/state.js';
import { syncGitView, type GitViewRules } from './git-history/view.js';
import { docKey, type IndexDoc } from './index-docs.js';
import type { Registry } from './registry.js';
import type { Repo } from './repos.js';
import type { GitViewParts, SourceParts } from './source-parts.js';

/** A document as a source answers it; `stale` when an upstream could not be asked and this is the last good copy. */
export interface SourceDoc extends IndexDoc {
  stale: boolean;
}

/** An immutable archive by content address. */
export interface SourceArtifact {
  sha256: string;
  size: number;
  blob: BlobHandle;
  /**
   * Counts one download of it for the repo that holds it (a group passes its member's artifact on, so the member
   * counts it); called by whoever sends the bytes, once they were sent in full (registry/downloads.ts).
   */
  countDownload?: () => void;
}

/** Where a repo's documents and artifacts come from: hosted rows, an upstream, or a group's members. */
export interface Source {
  readonly repo: Repo;
  /**
   * True when `artifact(key)` may fetch from an upstream on a miss (a proxy, or a group with one):
   * a format that advertises where its archives are (Bazel's mirrors) then points clients at Larder.
   */
  readonly fetchesArtifacts?: boolean;
  /**
   * True when `doc` reads only this node's own storage, never an upstream (a hosted repo, or a group of such): the
   * index fast path then loads a first read itself (http/early-server.ts), since a failed read costs no upstream a retry.
   */
  readonly readsLocally?: boolean;
  /**
   * A group's members in the order it looks a package up (hosted first, then the others as configured); the
   * first that holds a package serves it. Absent for a repo that holds its own files.
   */
  readonly members?: readonly Source[];
  /** The cached answer without an asynchronous step: a document, null for a known absence, undefined when only `doc` can tell. */
  peek(path: string): SourceDoc | null | undefined;
  /**
   * `peek` of one path, to call again and again: what a call needs is made once (a hosted repo's cache key). For a
   * caller that remembers paths (the fast path's URL memo); absent, such a caller calls `peek`.
   */
  peeker?(path: string): () => SourceDoc | null | undefined;
  /** The document at a path (registry-relative, as the client asks for it), or null. */
  doc(path: string): Promise<SourceDoc | null>;
  /** The artifact an artifact key names (the format decides the key's shape), or null. */
  artifact(key: string): Promise<SourceArtifact | null>;
  /**
   * A git history the repo serves (MoonBit's `index`), brought up to date first: a proxy syncs its
   * upstream repository (at most once per TTL), a group records the union of its members'. `stale`
   * when an upstream could not be asked and the last recorded history is served.
   */
  gitHistory(name: string, opts?: GitHistoryOptions): Promise<{ ref: GitHistoryRef; stale: boolean }>;
}

/** What a git route knows that a git view may need. */
export interface GitHistoryOptions {
  /** The base URL the client reached Larder at (used for root files like config.json when `public_url` is unset). */
  baseUrl?: string;
}

/** Default `git_squash_after`: commits after which a git view is squashed into one root commit. */
export const DEFAULT_GIT_SQUASH_AFTER = 1000;
/** Default `git_batch`: a git view seals at most one commit per this many milliseconds. */
export const DEFAULT_GIT_BATCH_MS = 1000;

/** A format's git view with the repo's settings: the rules registry/git-history/view.ts applies. */
export function gitViewRules(
  registry: Registry,
  repo: Repo,
  view: GitViewParts,
  opts: GitHistoryOptions = {},
): { rules: GitViewRules; base: string } {
  const fixed = registry.config.publicUrl;
  return {
    base: fixed ?? opts.baseUrl ?? `http://${registry.config.listen.host}:${registry.config.listen.port}`,
    rules: {
      history: view.history,
      includes: view.includes,
      rootFiles: (base) => view.rootFiles(repo, base),
      recordedBase: (files) => view.recordedBase(repo, files),
      fixedBase: fixed !== null,
      batchSeconds: Math.ceil((repo.gitBatch ?? DEFAULT_GIT_BATCH_MS) / 1000),
      squashAfter: repo.gitSquashAfter ?? DEFAULT_GIT_SQUASH_AFTER,
    },
  };
}

// Marked once: a cached document is handed out on every read, and Object.assign per read showed in index-read profiles.
const fresh = (doc: IndexDoc | null): SourceDoc | null =>
  doc === null ? null : (doc as SourceDoc).stale === false ? (doc as SourceDoc) : Object.assign(doc, { stale: false });

/** The source of a hosted repo: the documents its publishes wrote, the blobs its rows name. */
export class HostedSource implements Source {
  readonly readsLocally = true;
  // Made on first use: an LRUCache with `max` allocates all its slots at once, and a start need not (issue 14).
  private artifactCache?: LRUCache<string, { sha256: string; size: number } | false>;
  private get artifacts(): LRUCache<string, { sha256: string; size: number } | false> {
    return (this.artifactCache ??= new LRUCache({ max: 10_000 }));
  }
  private readonly begun = new Set<string>();

  constructor(
    private readonly registry: Registry,
    readonly repo: Repo,
    private readonly parts: SourceParts,
  ) {}

  peek(path: string): SourceDoc | null | undefined {
    const doc = this.registry.docs.peek(this.repo.id, path);
    return doc === undefined ? undefined : fresh(doc);
  }

  peeker(path: string): () => SourceDoc | null | undefined {
    const peek = this.registry.docs.peeker(docKey(this.repo.id, path));
    return () => {
      const doc = peek();
      return doc === undefined ? undefined : fresh(doc);
    };
  }

  async doc(path: string): Promise<SourceDoc | null> {
    return fresh(await this.registry.docs.get(this.repo.id, path));
  }

  async artifact(key: string): Promise<SourceArtifact | null> {
    // Artifacts are immutable (every format's keys are create-only: a version or a content hash), so a found key is
    // cached and stays right whatever another node writes; a missing one is asked again (it may be published).
    let found = this.artifacts.get(key);
    if (!found) {
      found = (await this.parts.hosted.artifact(this.registry, this.repo, key)) ?? false;
      if (found) this.artifacts.set(key, found);
    }
    if (!found) return null;
    const blob = await this.registry.blobs.open(found.sha256);
    return blob ? { ...found, blob, countDownload: () => this.registry.downloads.count(this.repo, key) } : null;
  }

  async gitHistory(name: string, opts: GitHistoryOptions = {}): Promise<{ ref: GitHistoryRef; stale: boolean }> {
    const view = this.parts.gitView;
    if (view?.history === name) {
      const { rules, base } = gitViewRules(this.registry, this.repo, view, opts);
      return { ref: await syncGitView(this.registry, this.repo.id, rules, base), stale: false };
    }
    const ref = { repoId: this.repo.id, history: name };
    // The branch exists before the first publish (an empty first commit), so clients pull rather than re-clone.
    if (!this.begun.has(name)) {
      await beginHistory(this.registry, ref);
      this.begun.add(name);
    }
    return { ref, stale: false };
  }

  /** Whether this repo holds the package, compared the way the ecosystem compares names (the dependency-confusion rule). */
  hasPackage(pkg: string): Promise<boolean> {
    return this.parts.hosted.hasPackage(this.registry, this.repo, pkg);
  }
}
