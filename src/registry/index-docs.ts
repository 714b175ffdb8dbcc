import type { Insertable } from 'kysely';
import { LRUCache } from 'lru-cache';
import { DEFAULT_INDEX_CACHE_BYTES } from '../core/config/types.js';
import { strongEtag } from '../core/hash.js';
import type { Db } from '../storage/db.js';
import { MultiRowStatement } from '../storage/multi-row.js';
import type { Database } from '../storage/schema.js';
import { prepared } from '../storage/prepared.js';
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
  /** Bytes the cached entries are accounted at now (see `entryBytes`), never above `budget`. */
  readonly bytes: number;
  /** Cached entries (documents and remembered absences). */
  readonly entries: number;
  /** `[cache] index_documents`. */
  readonly budget: number;
}

/** Told when cached documents stop being current: other caches derived from documents follow it. */
export interface IndexDocSubscriber {
  /** One document changed (a local commit, another process's or node's announced commit). */
  changed?(repoId: number, path: string): void;
  /** Announcements may have been missed (the notification connection came back): everything may have changed. */
  reset?(): void;
}

/** The cache key of a repo's document (`peekKey`). */
export function docKey(repoId: number, path: string): string {
  return `${repoId}\0${path}`;
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
  /**
   * Changes whenever an entry is put in the cache or taken out (an eviction happens only inside a put): a `peeker`'s
   * answer made at the current generation is still what the cache holds.
   */
  private generation = 0;
  readonly stats: IndexDocStats;

  constructor(
    private readonly db: Db,
    /** Set when several nodes share the database: changes are then announced to all of them. */
    private readonly announce: ((uow: UnitOfWork, repoId: number, paths: string[]) => Promise<void>) | null = null,
    /** Set in a cluster worker: sibling processes drop their copy before the write is acknowledged. */
    private readonly peers: IndexPeers | null = null,
    /** `[cache] index_documents`: the most the cached entries may be accounted at; 0 caches nothing. */
    maxBytes = DEFAULT_INDEX_CACHE_BYTES,
  ) {
    // lru-cache never stores an entry larger than maxSize, so a budget of 1 byte keeps nothing.
    const cache = (this.cache = new LRUCache<string, Cached>({ maxSize: Math.max(1, maxBytes), sizeCalculation: entryBytes }));
    this.stats = {
      hits: 0,
      misses: 0,
      get bytes() {
        return cache.calculatedSize;
      },
      get entries() {
        return cache.size;
      },
      budget: maxBytes,
    };
  }

  /**
   * The cached answer for a path without any asynchronous step: a document, null for a cached
   * absence, or undefined when only `get` can tell. Hot index reads stay on this path.
   */
  peek(repoId: number, path: string): IndexDoc | null | undefined {
    return this.peekKey(docKey(repoId, path));
  }

  /**
   * `peek` by the key `docKey` made: a caller that reads one path again and again (the fast path's URL memo) makes
   * the key once, rather than a string joined (and hashed) per read.
   */
  peekKey(key: string): IndexDoc | null | undefined {
    const cached = this.cache.get(key);
    if (cached === undefined) return undefined;
    this.stats.hits++;
    return cached === MISSING ? null : cached;
  }

  /**
   * `peekKey` of one key, to call again and again (the fast path's URL memo): while the cache has not changed since the
   * last call it answers what that call found, without a lookup. Recency then moves only on the first read of a key
   * after each change, and evictions happen only at a change, so what is evicted is still what was read least lately.
   */
  peeker(key: string): () => IndexDoc | null | undefined {
    let at = -1;
    let found: IndexDoc | null | undefined;
    return () => {
      if (at !== this.generation) {
        found = this.peekKey(key);
        at = this.generation;
      } else if (found !== undefined) this.stats.hits++;
      return found;
    };
  }

  /** The document at `path` of a repo, or null. */
  async get(repoId: number, path: string): Promise<IndexDoc | null> {
    const cached = this.peek(repoId, path);
    if (cached !== undefined) return cached;
    const key = docKey(repoId, path);
    this.stats.misses++;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const load = this.load(repoId, path).then(
      (doc) => {
        if (this.loading.get(key) === load) {
          this.loading.delete(key);
          this.cache.set(key, doc ?? MISSING);
          this.generation++;
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
    return row ? toDoc(ownBytes(row.body), row.etag, row.updated_at) : null;
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
    await upsertDoc.all(uow.trx, { repoId, path, body, etag: doc.etag, updatedAt: doc.updatedAt });
    await this.announce?.(uow, repoId, [path]);
    await this.wrote(uow, repoId, [path]);
    this.afterCommit(uow, repoId, [path]);
    return doc;
  }

  /**
   * Writes many documents inside `uow` whose etags the caller already computed (`strongEtag(body)`): an import
   * hashes each file once to compare it and passes the hash on, with the stat of the file it read (`importStat`,
   * which `importStats` gives back). Multi-row statements compiled once per process, one announcement for all:
   * `wholeRepo` announces the repo instead of each path (other processes drop all they hold of it), for an import into
   * a repo that had no documents, where there is nothing cached to keep and a row per path would cost more than the rest.
   */
  async putMany(
    uow: UnitOfWork,
    repoId: number,
    docs: Array<{ path: string; body: Buffer; etag: string; importStat?: string | null }>,
    opts: { wholeRepo?: boolean } = {},
  ): Promise<void> {
    const updatedAt = Date.now();
    await this.putRows.run(
      uow.trx,
      docs.map((d) => ({
        repo_id: repoId,
        path: d.path,
        body: d.body,
        etag: d.etag,
        updated_at: updatedAt,
        import_stat: d.importStat ?? null,
      })),
    );
    const paths = docs.map((d) => d.path);
    await this.announce?.(uow, repoId, opts.wholeRepo ? [WHOLE_REPO] : paths);
    await this.wrote(uow, repoId, paths);
    this.afterCommit(uow, repoId, paths);
  }

  private readonly putRows = new MultiRowStatement<Insertable<Database['index_docs']>>(
    PUT_CHUNK,
    (db, rows) =>
      db
        .insertInto('index_docs')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['repo_id', 'path']).doUpdateSet((eb) => ({
            body: eb.ref('excluded.body'),
            etag: eb.ref('excluded.etag'),
            updated_at: eb.ref('excluded.updated_at'),
            import_stat: eb.ref('excluded.import_stat'),
          })),
        ),
    (r) => [r.repo_id, r.path, r.body, r.etag, r.updated_at, r.import_stat],
  );

  /**
   * Every document of a repo with its etag and the stat it was imported with (null unless an import wrote it last):
   * one query, for an import to tell unchanged files without reading them.
   */
  async importStats(repoId: number): Promise<Map<string, { etag: string; importStat: string | null }>> {
    const rows = await this.db.selectFrom('index_docs').select(['path', 'etag', 'import_stat']).where('repo_id', '=', repoId).execute();
    return new Map(rows.map((r) => [r.path, { etag: r.etag, importStat: r.import_stat }]));
  }

  /** Records the stat of files whose documents an import found unchanged (so the next import need not read them). */
  async setImportStats(uow: UnitOfWork, repoId: number, stats: Array<{ path: string; etag: string; importStat: string }>): Promise<void> {
    for (const s of stats) {
      // Only while the document is still the file's bytes (the etag the import compared).
      await uow.trx
        .updateTable('index_docs')
        .set({ import_stat: s.importStat })
        .where('repo_id', '=', repoId)
        .where('path', '=', s.path)
        .where('etag', '=', s.etag)
        .execute();
    }
  }

  /** Deletes a document inside `uow`. */
  async remove(uow: UnitOfWork, repoId: number, path: string): Promise<void> {
    await uow.trx.deleteFrom('index_docs').where('repo_id', '=', repoId).where('path', '=', path).execute();
    await this.announce?.(uow, repoId, [path]);
    await this.wrote(uow, repoId, [path]);
    this.afterCommit(uow, repoId, [path]);
  }

  /** Told of every write inside its transaction (git views mark the paths they must commit next). */
  private readonly writeHooks: Array<(uow: UnitOfWork, repoId: number, paths: string[]) => Promise<void>> = [];

  /** Runs `hook` inside the transaction of every put or remove, after the rows are written. */
  onWrite(hook: (uow: UnitOfWork, repoId: number, paths: string[]) => Promise<void>): void {
    this.writeHooks.push(hook);
  }

  private async wrote(uow: UnitOfWork, repoId: number, paths: string[]): Promise<void> {
    for (const hook of this.writeHooks) await hook(uow, repoId, paths);
  }

  private afterCommit(uow: UnitOfWork, repoId: number, paths: string[]): void {
    uow.afterCommit(async () => {
      for (const path of paths) {
        this.invalidate(repoId, path);
        await this.peers?.changed(repoId, path);
        for (const hook of this.committedHooks) await hook(repoId, path);
      }
    });
  }

  /** Told of this process's own commits, after the cache has dropped the old copy (static origins write files then). */
  private readonly committedHooks: Array<(repoId: number, path: string) => Promise<void>> = [];

  /** Runs `hook` after each commit of this process that put or removed a document (not for other processes' commits). */
  onCommitted(hook: (repoId: number, path: string) => Promise<void>): void {
    this.committedHooks.push(hook);
  }

  /**
   * Forgets a cached document (after a local commit, or a change announced by another node); `WHOLE_REPO` for the
   * path forgets every document of the repo.
   */
  invalidate(repoId: number, path: string): void {
    if (path === WHOLE_REPO) return this.forgetRepo(repoId);
    const key = docKey(repoId, path);
    this.cache.delete(key);
    this.generation++;
    this.loading.delete(key);
    for (const s of this.subscribers) s.changed?.(repoId, path);
  }

  private forgetRepo(repoId: number): void {
    const prefix = `${repoId}\0`;
    for (const key of [...this.cache.keys()]) if (key.startsWith(prefix)) this.cache.delete(key);
    this.generation++;
    for (const key of [...this.loading.keys()]) if (key.startsWith(prefix)) this.loading.delete(key);
    // Subscribers hear of paths; any path of the repo may have changed, so they start over.
    for (const s of this.subscribers) s.reset?.();
  }

  /** Forgets every cached document (when change announcements may have been missed). */
  clear(): void {
    this.cache.clear();
    this.generation++;
    this.loading.clear();
    for (const s of this.subscribers) s.reset?.();
  }

  /** Follows invalidations, for caches derived from documents; returns the unsubscribe function. */
  subscribe(subscriber: IndexDocSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }
}

const upsertDoc = prepared(
  'index document upsert',
  (db: Db, p: { repoId: number; path: string; body: Buffer; etag: string; updatedAt: number }) =>
    db
      .insertInto('index_docs')
      .values({ repo_id: p.repoId, path: p.path, body: p.body, etag: p.etag, updated_at: p.updatedAt })
      .onConflict((oc) =>
        oc.columns(['repo_id', 'path']).doUpdateSet((eb) => ({
          body: eb.ref('excluded.body'),
          etag: eb.ref('excluded.etag'),
          updated_at: eb.ref('excluded.updated_at'),
          import_stat: null,
        })),
      ),
);

/** Rows per multi-row insert: 6 parameters each, well under SQLite's limit of 32,766. */
const PUT_CHUNK = 500;

/**
 * The path an announcement of a whole repo carries (no document has an empty path): every document of it may have
 * changed. `putMany` announces it for an import into an empty repo; `invalidate` forgets the repo on hearing it.
 */
export const WHOLE_REPO = '';

function toDoc(body: Buffer, etag: string, updatedAt: number): IndexDoc {
  return { body, etag, updatedAt, lastModified: new Date(updatedAt).toUTCString() };
}

/**
 * The body in memory of its own. A small Buffer that is a view of a larger allocation (Node's 8 KiB pool, which pg's
 * bytea decoding and Buffer.from use) would keep all of it alive while cached, unaccounted.
 */
function ownBytes(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes) && bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.length);
  own.set(bytes);
  return own;
}

/*
 * What one cache entry costs, in bytes of V8 heap and ArrayBuffer memory (64-bit, no pointer compression as in
 * Node 20). ENTRY_OVERHEAD is what is not visible in the entry's own fields: lru-cache's bookkeeping per entry (its
 * Map entry, the key/value/next/prev/size list slots) and the IndexDoc object itself; it was measured with
 * v8.getHeapStatistics() and process.memoryUsage().arrayBuffers over 100,000 entries after a full GC
 * (scripts in index-docs.test.ts, "accounts what entries really cost"). The other constants are V8's layouts.
 */
const ENTRY_OVERHEAD = 112;
/** A string's header (map, hash, length), before its characters. */
const STRING_HEADER = 16;
/** A Buffer beyond its bytes: the Uint8Array and ArrayBuffer objects and the backing-store record. */
const BUFFER_OVERHEAD = 184;
/** A plain object or array's header, before its property slots. */
const OBJECT_HEADER = 24;
const SLOT = 8;

/**
 * The bytes a cache entry is accounted at: the key, and every field of the document (body, validators, and any field
 * added later, such as precomputed headers), each at what V8 spends on it, plus the measured per-entry overhead.
 */
export function entryBytes(value: IndexDoc | symbol, key: string): number {
  return ENTRY_OVERHEAD + heapBytes(key) + (typeof value === 'symbol' ? 0 : heapBytes(value));
}

function heapBytes(v: unknown, depth = 0): number {
  if (typeof v === 'string') return STRING_HEADER + align(oneByte(v) ? v.length : v.length * 2);
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 0 : 16;
  if (typeof v === 'bigint') return 16 + align(Math.ceil(v.toString(16).length / 2));
  if (v === null || typeof v !== 'object' || depth > 4) return 0;
  if (ArrayBuffer.isView(v)) return v.byteLength + BUFFER_OVERHEAD;
  const values: unknown[] = Array.isArray(v) ? v : v instanceof Map ? [...v.keys(), ...v.values()] : Object.values(v);
  let total = OBJECT_HEADER + SLOT * values.length;
  for (const x of values) total += heapBytes(x, depth + 1);
  return total;
}

/** V8 keeps a string of Latin-1 characters at one byte a character, others at two. */
function oneByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

function align(n: number): number {
  return (n + 7) & ~7;
}
