import { LRUCache } from 'lru-cache';
import { strongEtag } from '../core/hash.js';
import type { Db } from '../storage/db.js';
import type { IndexPeers } from './cluster-peers.js';
import type { UnitOfWork } from './tx.js';

/** A materialised file a client reads for metadata, with the validators HTTP caching needs. */
export interface IndexDoc {
  body: Buffer;
  etag: string;
  updatedAt: number;
  /** `updatedAt` as an HTTP date, formatted once rather than per request. */
  lastModified: string;
}

const MISSING = Symbol('missing');
type Cached = IndexDoc | typeof MISSING;

export interface IndexDocStats {
  hits: number;
  misses: number;
}

/** Told when cached documents stop being current: other caches derived from documents follow it. */
export interface IndexDocSubscriber {
  /** One document changed (a local commit, another process's or node's announced commit). */
  changed?(repoId: number, path: string): void;
  /** Announcements may have been missed (the notification connection came back): everything may have changed. */
  reset?(): void;
}

/**
 * Index documents, written inside the transaction that changes them and read by primary
 * key behind an in-memory LRU. Absent paths are cached too: Cargo probes `foo_bar` for
 * every unknown `foo-bar`, and a not-found must stay fast.
 */
export class IndexDocs {
  private readonly cache: LRUCache<string, Cached>;
  /**
   * Loads in flight, by key. A load may read a row just before another commit changes it; an
   * invalidation that arrives meanwhile removes the entry, so the load's (old) result is returned
   * to its own callers but never cached. Concurrent misses of one path share one query.
   */
  private readonly loading = new Map<string, Promise<IndexDoc | null>>();
  private readonly subscribers = new Set<IndexDocSubscriber>();
  readonly stats: IndexDocStats = { hits: 0, misses: 0 };

  constructor(
    private readonly db: Db,
    /** Set when several nodes share the database: changes are then announced to all of them. */
    private readonly announce: ((uow: UnitOfWork, repoId: number, path: string) => Promise<void>) | null = null,
    /** Set in a cluster worker: sibling processes drop their copy before the write is acknowledged. */
    private readonly peers: IndexPeers | null = null,
    maxBytes = 256 * 1024 * 1024,
  ) {
    this.cache = new LRUCache<string, Cached>({
      maxSize: maxBytes,
      sizeCalculation: (v, k) => (v === MISSING ? 64 : v.body.length + 128) + k.length,
    });
  }

  /**
   * The cached answer for a path without any asynchronous step: a document, null for a cached
   * absence, or undefined when only `get` can tell. Hot index reads stay on this path.
   */
  peek(repoId: number, path: string): IndexDoc | null | undefined {
    const cached = this.cache.get(`${repoId}\0${path}`);
    if (cached === undefined) return undefined;
    this.stats.hits++;
    return cached === MISSING ? null : cached;
  }

  /** The document at `path` of a repo, or null. */
  async get(repoId: number, path: string): Promise<IndexDoc | null> {
    const cached = this.peek(repoId, path);
    if (cached !== undefined) return cached;
    const key = `${repoId}\0${path}`;
    this.stats.misses++;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const load = this.load(repoId, path).then(
      (doc) => {
        if (this.loading.get(key) === load) {
          this.loading.delete(key);
          this.cache.set(key, doc ?? MISSING);
        }
        return doc;
      },
      (err: unknown) => {
        if (this.loading.get(key) === load) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, load);
    return load;
  }

  private async load(repoId: number, path: string): Promise<IndexDoc | null> {
    const row = await this.db
      .selectFrom('index_docs')
      .select(['body', 'etag', 'updated_at'])
      .where('repo_id', '=', repoId)
      .where('path', '=', path)
      .executeTakeFirst();
    return row ? toDoc(Buffer.from(row.body), row.etag, row.updated_at) : null;
  }

  /**
   * Reads a document inside `uow`, bypassing the cache: for read-modify-write of a document
   * (the connection is the transaction's; `get` would wait for it, forever on SQLite).
   */
  async read(uow: UnitOfWork, repoId: number, path: string): Promise<Buffer | null> {
    const row = await uow.trx
      .selectFrom('index_docs')
      .select('body')
      .where('repo_id', '=', repoId)
      .where('path', '=', path)
      .executeTakeFirst();
    return row ? Buffer.from(row.body) : null;
  }

  /** Writes a document inside `uow`; readers see it once the transaction commits. */
  async put(uow: UnitOfWork, repoId: number, path: string, body: Buffer): Promise<IndexDoc> {
    const doc = toDoc(body, strongEtag(body), Date.now());
    await uow.trx
      .insertInto('index_docs')
      .values({ repo_id: repoId, path, body, etag: doc.etag, updated_at: doc.updatedAt })
      .onConflict((oc) => oc.columns(['repo_id', 'path']).doUpdateSet({ body, etag: doc.etag, updated_at: doc.updatedAt }))
      .execute();
    await this.announce?.(uow, repoId, path);
    this.afterCommit(uow, repoId, path);
    return doc;
  }

  /** Deletes a document inside `uow`. */
  async remove(uow: UnitOfWork, repoId: number, path: string): Promise<void> {
    await uow.trx.deleteFrom('index_docs').where('repo_id', '=', repoId).where('path', '=', path).execute();
    await this.announce?.(uow, repoId, path);
    this.afterCommit(uow, repoId, path);
  }

  private afterCommit(uow: UnitOfWork, repoId: number, path: string): void {
    uow.afterCommit(async () => {
      this.invalidate(repoId, path);
      await this.peers?.changed(repoId, path);
      for (const hook of this.committedHooks) await hook(repoId, path);
    });
  }

  /** Told of this process's own commits, after the cache has dropped the old copy (static origins write files then). */
  private readonly committedHooks: Array<(repoId: number, path: string) => Promise<void>> = [];

  /** Runs `hook` after each commit of this process that put or removed a document (not for other processes' commits). */
  onCommitted(hook: (repoId: number, path: string) => Promise<void>): void {
    this.committedHooks.push(hook);
  }

  /** Forgets a cached document (after a local commit, or a change announced by another node). */
  invalidate(repoId: number, path: string): void {
    const key = `${repoId}\0${path}`;
    this.cache.delete(key);
    this.loading.delete(key);
    for (const s of this.subscribers) s.changed?.(repoId, path);
  }

  /** Forgets every cached document (when change announcements may have been missed). */
  clear(): void {
    this.cache.clear();
    this.loading.clear();
    for (const s of this.subscribers) s.reset?.();
  }

  /** Follows invalidations, for caches derived from documents; returns the unsubscribe function. */
  subscribe(subscriber: IndexDocSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }
}

function toDoc(body: Buffer, etag: string, updatedAt: number): IndexDoc {
  return { body, etag, updatedAt, lastModified: new Date(updatedAt).toUTCString() };
}
