/**
 * The proxy source, shared by every format: documents fetched from the upstream and cached with its
 * ETag (revalidated after the TTL, immutable ones kept), artifacts fetched once and verified against
 * what the documents promise before they are stored. Upstream down → the last copy, marked stale.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { fail, LarderError } from '../core/errors.js';
import { strongEtag } from '../core/hash.js';
import { parseSri, sriHasher } from '../core/sri.js';
import type { IndexDoc } from '../registry/index-docs.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import { gitViewRules, type GitHistoryOptions, type Source, type SourceArtifact, type SourceDoc } from '../registry/source.js';
import { markGitViewChanged, syncGitView } from '../registry/git-history/view.js';
import type { ArtifactOrigin, ProxyContext, ProxyParts, SourceParts } from '../registry/source-parts.js';
import { storeBlob } from '../registry/blob-records.js';
import { inTransaction } from '../registry/tx.js';
import { isBlobStoreUnavailable } from '../storage/blob-errors.js';
import { isDatabaseUnavailable } from '../storage/pg-pool.js';
import type { StagedBlob } from '../storage/blobs.js';
import type { GitHistoryRef } from '../registry/git-history/record.js';
import { historyTip } from '../registry/git-history/state.js';
import { syncUpstreamGit } from './git-upstream.js';
import { indexProxyDoc, indexProxyDocIfMissing, proxySearchTarget, type ProxySearchTarget } from './proxy-search.js';
import { UpstreamHealthRecorder } from './proxy-health.js';
import type { UpstreamDocument, UpstreamFetch } from './upstream-fetch.js';

/** Default revalidation interval of mutable documents: crates.io's own max-age. */
export const DEFAULT_TTL_MS = 10 * 60_000;
/** How long an upstream 404 is believed. */
const NEGATIVE_TTL_MS = 60_000;
const MAX_DOCUMENT = 64 * 1024 * 1024;

/** What the proxy holds for one document path. */
interface DocEntry {
  /** The upstream's bytes, or null when the upstream said 404. */
  raw: IndexDoc | null;
  upstreamEtag: string | null;
  fetchedAt: number;
  /** What clients see: `raw` less the versions still in cooldown. */
  served: SourceDoc | null;
  /** When a hidden version comes out of cooldown (the served copy must be rebuilt then). */
  servedUntil: number;
  /** After an upstream failure: until when the held copy is served (stale) without asking again. */
  failedUntil?: number;
  /** The document changed in the database since (another node, `larder mirror`, or this node's own announcement): read it again. */
  recheck?: boolean;
}

/** How long after an upstream failure the held copy is served without trying the upstream again. */
const RETRY_AFTER_FAILURE_MS = 15_000;

type ArtifactRow = { sha256: string; size: number };

/** Memory the held documents of one proxy may take (the database keeps them all). */
const ENTRY_CACHE_BYTES = 64 * 1024 * 1024;

/** What an entry costs: its bytes (the served copy counted only when cooldown made it a second body) and its path. */
function entrySize(e: DocEntry, path: string): number {
  const raw = e.raw?.body.length ?? 0;
  const served = e.served && e.served.body !== e.raw?.body ? e.served.body.length : 0;
  return raw + served + path.length + 256;
}

/** A proxy repo of any format. */
export class ProxySource implements Source {
  readonly upstream: string;
  readonly fetchesArtifacts = true;
  private readonly ttl: number;
  private readonly cooldown: number;
  private readonly offline: boolean;
  // Bounded by bytes, not count: an upstream's documents range from a few bytes to megabytes.
  private readonly entries = new LRUCache<string, DocEntry>({ maxSize: ENTRY_CACHE_BYTES, sizeCalculation: entrySize });
  // Made on first use: an LRUCache with `max` allocates all its slots at once, and a start need not (issue 14).
  private artifactRowCache?: LRUCache<string, ArtifactRow>;
  private missingArtifactCache?: LRUCache<string, true>;
  private get artifactRows(): LRUCache<string, ArtifactRow> {
    return (this.artifactRowCache ??= new LRUCache({ max: 50_000 }));
  }
  private get missingArtifacts(): LRUCache<string, true> {
    return (this.missingArtifactCache ??= new LRUCache({ max: 10_000, ttl: NEGATIVE_TTL_MS }));
  }
  private readonly docFlights = new Map<string, Promise<SourceDoc | null>>();
  private readonly artifactFlights = new Map<string, Promise<SourceArtifact | null>>();
  private readonly gitFlight = new Map<string, Promise<boolean>>();
  private gitSyncedAt = 0;
  private gitFailedUntil = 0;
  private readonly proxy: ProxyParts;
  /** Where fetched package documents are indexed for search (null: the format records nothing). */
  private readonly search: ProxySearchTarget | null;
  /** The latest upstream outcome, for the proxy statistics (proxy-stats.ts). */
  private readonly health: UpstreamHealthRecorder;
  readonly context: ProxyContext;
  /** The format's git view of the documents held here (Cargo's git index), if it has one. */
  private readonly gitView: SourceParts['gitView'];

  constructor(
    private readonly registry: Registry,
    readonly repo: Repo,
    parts: SourceParts,
    private readonly fetcher: UpstreamFetch,
  ) {
    if (!parts.proxy) fail('CONFIG_INVALID', `repository "${repo.name}": ${repo.format} has no proxy repositories`);
    this.proxy = parts.proxy;
    this.gitView = parts.gitView;
    this.search = proxySearchTarget(repo, parts.proxy);
    const configured = repo.upstream ?? this.proxy.defaultUpstream;
    this.upstream = this.proxy.upstreamBase ? this.proxy.upstreamBase(configured) : configured.replace(/\/$/, '');
    this.ttl = repo.ttl ?? DEFAULT_TTL_MS;
    this.cooldown = repo.cooldown ?? 0;
    // A git index cannot hide a young version without rewriting history the clients already pulled.
    if (this.cooldown > 0 && this.proxy.upstreamGit)
      fail(
        'CONFIG_INVALID',
        `repository "${repo.name}": ${repo.format} proxies cannot honour cooldown (the index is the upstream's git history, which cannot hide a version without rewriting what clients pulled); remove cooldown from this repository`,
      );
    this.offline = repo.offline ?? false;
    // Another node (or `larder mirror`) stored a newer copy: read it from the database rather than keep ours until the
    // TTL (an offline proxy's copy would otherwise never be replaced). The held copy is kept until that read succeeds:
    // while the database is away it is what can be served.
    registry.docs.subscribe({
      changed: (repoId, path) => {
        const e = repoId === repo.id ? this.entries.get(path) : undefined;
        if (e) e.recheck = true;
      },
      reset: () => this.entries.forEach((e) => (e.recheck = true)),
    });
    this.health = new UpstreamHealthRecorder(registry, repo);
    this.context = {
      registry,
      repo,
      upstream: this.upstream,
      doc: (p) => this.doc(p),
      artifact: (k) => this.artifact(k),
      gitTip: async () => {
        const git = this.proxy.upstreamGit;
        if (!git) fail('INTERNAL', `${repo.format} proxies have no upstream git repository`);
        await this.syncGit();
        return historyTip(registry.db, this.gitRef(git));
      },
      promise: async (k) => {
        const row = await registry.db
          .selectFrom('proxy_promises')
          .select(['key', 'url', 'sha256', 'sri'])
          .where('repo_id', '=', repo.id)
          .where('key', '=', k)
          .executeTakeFirst();
        return row
          ? { key: row.key, url: row.url, ...(row.sha256 ? { sha256: row.sha256 } : {}), ...(row.sri ? { sri: row.sri } : {}) }
          : null;
      },
    };
  }

  peek(path: string): SourceDoc | null | undefined {
    const e = this.entries.get(path);
    return e && !e.recheck && this.isFresh(path, e, Date.now()) ? e.served : undefined;
  }

  async doc(path: string): Promise<SourceDoc | null> {
    const held = this.entries.get(path);
    const e = held && !held.recheck ? held : await this.reload(path, held);
    const now = Date.now();
    if (e && this.isFresh(path, e, now)) return e.served;
    // Offline, a document is what is held; one the synced git copy holds is read from it (no upstream is asked).
    if (this.offline && (e || !this.fromGit(path))) return e ? (e.served ?? null) : null;
    if (e?.failedUntil && now < e.failedUntil) return this.staleCopy(e);
    return flight(this.docFlights, path, () => this.refresh(path, e));
  }

  async artifact(key: string): Promise<SourceArtifact | null> {
    const row = this.artifactRows.get(key) ?? (await this.loadArtifact(key));
    if (row) {
      const blob = await this.registry.blobs.open(row.sha256);
      if (blob) return { ...row, blob, countDownload: this.counter(key) };
    }
    if (this.offline || this.missingArtifacts.has(key)) return null;
    return flight(this.artifactFlights, key, () => this.fetchArtifact(key));
  }

  /** Counts a download of `key` for this proxy (the repo whose copy was sent). */
  private counter(key: string): () => void {
    return () => this.registry.downloads.count(this.repo, key);
  }

  private isFresh(path: string, e: DocEntry, now: number): boolean {
    if (this.offline) return true;
    if (now >= e.servedUntil) return false;
    if (!e.raw) return now - e.fetchedAt < Math.min(NEGATIVE_TTL_MS, this.ttl);
    return this.proxy.docLifetime(path) === 'immutable' || now - e.fetchedAt < this.ttl;
  }

  /** The held copy, flagged stale (a known absence stays an absence). */
  private staleCopy(e: DocEntry): SourceDoc | null {
    if (!e.served) return null;
    this.registry.metrics.staleServed.inc({ repo: this.repo.name });
    return { ...e.served, stale: true };
  }

  /** `load`, or the held copy when the database cannot be read now. */
  private async reload(path: string, held: DocEntry | undefined): Promise<DocEntry | undefined> {
    try {
      return await this.load(path);
    } catch (err) {
      if (held && isDatabaseUnavailable(err)) return held;
      throw err;
    }
  }

  /** What the database holds for a path (after a restart, or on another node). */
  private async load(path: string): Promise<DocEntry | undefined> {
    const row = await this.registry.db
      .selectFrom('proxy_docs')
      .select(['status', 'upstream_etag', 'fetched_at'])
      .where('repo_id', '=', this.repo.id)
      .where('path', '=', path)
      .executeTakeFirst();
    if (!row) return undefined;
    const raw = row.status === 200 ? await this.registry.docs.get(this.repo.id, path) : null;
    return this.remember(path, raw, row.upstream_etag, Number(row.fetched_at));
  }

  /** Builds what clients see of a document (cooldown applied) and caches the entry. */
  private async remember(path: string, raw: IndexDoc | null, upstreamEtag: string | null, fetchedAt: number): Promise<DocEntry> {
    const entry: DocEntry = { raw, upstreamEtag, fetchedAt, served: raw ? { ...raw, stale: false } : null, servedUntil: Infinity };
    if (raw && this.cooldown > 0 && this.proxy.versions && this.proxy.withoutVersions) {
      const stamps = this.proxy.versions(path, raw.body);
      if (stamps.length > 0) {
        const seen = new Map(
          (
            await this.registry.db
              .selectFrom('proxy_versions')
              .select(['version', 'first_seen'])
              .where('repo_id', '=', this.repo.id)
              .where('path', '=', path)
              .execute()
          ).map((r) => [r.version, Number(r.first_seen)]),
        );
        const now = Date.now();
        const hidden = new Set<string>();
        for (const s of stamps) {
          const visibleAt = (s.publishedAt ?? seen.get(s.version) ?? 0) + this.cooldown;
          if (visibleAt > now) {
            hidden.add(s.version);
            entry.servedUntil = Math.min(entry.servedUntil, visibleAt);
          }
        }
        if (hidden.size > 0) {
          const body = this.proxy.withoutVersions(path, raw.body, hidden);
          entry.served = body
            ? { body, etag: strongEtag(body), updatedAt: raw.updatedAt, lastModified: raw.lastModified, stale: false }
            : null;
        }
      }
    }
    this.entries.set(path, entry);
    return entry;
  }

  /** Asks the upstream (conditionally when a copy is held); on failure the held copy is served, marked stale. */
  private async refresh(path: string, held: DocEntry | undefined): Promise<SourceDoc | null> {
    const metric = this.registry.metrics.upstreamRequests;
    let answer: UpstreamDocument;
    let stale = false;
    let fromGit = false;
    try {
      const url = this.proxy.docUrl(this.upstream, path);
      if (url) {
        answer = await this.fetcher.document(url, held?.raw ? held.upstreamEtag : null, MAX_DOCUMENT);
        await this.health.answered();
      } else if (this.proxy.upstreamGit) {
        fromGit = true;
        stale = !(await this.syncGit());
        answer = await this.gitDocument(path, held);
      } else return null;
    } catch (err) {
      metric.inc({ repo: this.repo.name, outcome: 'failed' });
      // A failed git sync was recorded by syncGit.
      if (!fromGit) await this.health.failed(err);
      if (!held) throw err;
      held.failedUntil = Date.now() + RETRY_AFTER_FAILURE_MS;
      this.registry.log.warn(
        { repo: this.repo.name, path, err: (err as Error).message },
        `proxy ${this.repo.name}: upstream failed for ${path}; serving the cached copy`,
      );
      return this.staleCopy(held);
    }
    // Reading a synced git copy is no upstream request: only the sync counts.
    let served: SourceDoc | null;
    try {
      served = await this.take(path, held, answer, fromGit ? () => {} : (outcome) => metric.inc({ repo: this.repo.name, outcome }));
    } catch (err) {
      // The database is away: what is held was right when it was stored, and is served as stale until it is back.
      if (!held?.served || !isDatabaseUnavailable(err)) throw err;
      held.failedUntil = Date.now() + RETRY_AFTER_FAILURE_MS;
      return this.staleCopy(held);
    }
    if (!stale) return served;
    // The git upstream could not be asked: the copy of its last sync, said so, and not fresh (asked again later).
    const entry = this.entries.get(path);
    if (!entry) return served && { ...served, stale: true };
    entry.fetchedAt = 0;
    entry.failedUntil = Date.now() + RETRY_AFTER_FAILURE_MS;
    return this.staleCopy(entry);
  }

  /** Stores what the upstream answered for a document and returns what clients see. */
  private async take(
    path: string,
    held: DocEntry | undefined,
    answer: UpstreamDocument,
    count: (outcome: 'ok' | 'not_modified' | 'not_found') => void,
  ): Promise<SourceDoc | null> {
    const now = Date.now();
    if (answer.status === 304 && held?.raw) {
      count('not_modified');
      await this.registry.db
        .updateTable('proxy_docs')
        .set({ fetched_at: now })
        .where('repo_id', '=', this.repo.id)
        .where('path', '=', path)
        .execute();
      // A copy fetched before proxies indexed what they hold is indexed when it is next confirmed.
      if (this.search) await indexProxyDocIfMissing(this.registry, this.search, path, held.raw.body, now);
      return (await this.remember(path, held.raw, held.upstreamEtag, now)).served;
    }
    if (answer.status !== 200) {
      count('not_found');
      // The package is gone upstream: so is the search entry its last copy made, in the same transaction.
      const previous = held?.raw?.body ?? null;
      const inView = previous !== null && this.gitView?.includes(path) === true;
      if ((this.search || inView) && previous) {
        await inTransaction(this.registry, async (uow) => {
          await this.upsertState(uow.trx, path, 404, null, now);
          if (this.search) await indexProxyDoc(uow.trx, this.registry.dialect, this.search, path, null, previous, now);
          // Its git view drops the file with the next commit.
          if (inView) await markGitViewChanged(uow.trx, this.repo.id, [path]);
        });
      } else await this.upsertState(this.registry.db, path, 404, null, now);
      return (await this.remember(path, null, null, now)).served;
    }
    count('ok');
    const raw = await this.store(path, answer.body, answer.etag, now, held?.raw ?? null);
    return (await this.remember(path, raw, answer.etag, now)).served;
  }

  /** Stores a fetched document, its state, its search entry, and the versions seen for the first time. */
  private async store(path: string, body: Buffer, upstreamEtag: string | null, now: number, held: IndexDoc | null): Promise<IndexDoc> {
    const stamps = this.proxy.versions?.(path, body) ?? [];
    const promises = this.proxy.promises?.(path, body) ?? [];
    return inTransaction(this.registry, async (uow) => {
      const doc = await this.registry.docs.put(uow, this.repo.id, path, body);
      await this.upsertState(uow.trx, path, 200, upstreamEtag, now);
      if (this.search) await indexProxyDoc(uow.trx, this.registry.dialect, this.search, path, body, held?.body ?? null, now);
      for (const p of promises) {
        const row = { url: p.url, sha256: p.sha256 ?? null, sri: p.sri ?? null };
        await uow.trx
          .insertInto('proxy_promises')
          .values({ repo_id: this.repo.id, key: p.key, ...row })
          .onConflict((oc) => oc.columns(['repo_id', 'key']).doUpdateSet(row))
          .execute();
      }
      if (stamps.length > 0) {
        // Versions present at the first fetch were published before Larder looked: they are not young.
        const firstSeen = held ? now : 0;
        for (let i = 0; i < stamps.length; i += 200) {
          await uow.trx
            .insertInto('proxy_versions')
            .values(stamps.slice(i, i + 200).map((s) => ({ repo_id: this.repo.id, path, version: s.version, first_seen: firstSeen })))
            .onConflict((oc) => oc.columns(['repo_id', 'path', 'version']).doNothing())
            .execute();
        }
      }
      return doc;
    });
  }

  private async upsertState(db: Registry['db'], path: string, status: number, upstreamEtag: string | null, now: number): Promise<void> {
    await db
      .insertInto('proxy_docs')
      .values({ repo_id: this.repo.id, path, status, upstream_etag: upstreamEtag, fetched_at: now, immutable: this.immutable(path) })
      .onConflict((oc) => oc.columns(['repo_id', 'path']).doUpdateSet({ status, upstream_etag: upstreamEtag, fetched_at: now }))
      .execute();
  }

  /** 1 for a document that is never revalidated (counted as never stale by the proxy statistics). */
  private immutable(path: string): number {
    return this.proxy.docLifetime(path) === 'immutable' ? 1 : 0;
  }

  /** Whether a path is a file of the upstream git repository (not an HTTP document). */
  private fromGit(path: string): boolean {
    return this.proxy.upstreamGit !== undefined && this.proxy.docUrl(this.upstream, path) === null;
  }

  async gitHistory(name: string, opts: GitHistoryOptions = {}): Promise<{ ref: GitHistoryRef; stale: boolean }> {
    const git = this.proxy.upstreamGit;
    const view = this.gitView;
    if (git?.history !== name && view?.history === name) {
      // The documents this proxy holds (pulled through or mirrored), committed as they change. A commit cannot hide a
      // young version and show it later without rewriting what clients pulled: with cooldown only the documents serve.
      if (this.cooldown > 0)
        fail(
          'NOT_FOUND',
          `${this.repo.name} has a cooldown, which its git index cannot honour (a commit cannot hide a version and show it later); use its sparse index`,
        );
      const { rules, base } = gitViewRules(this.registry, this.repo, view, opts);
      return { ref: await syncGitView(this.registry, this.repo.id, rules, base), stale: false };
    }
    if (git?.history !== name) fail('NOT_FOUND', `${this.repo.name} serves no git history ${name}`);
    return { ref: this.gitRef(git), stale: !(await this.syncGit()) };
  }

  private gitRef(git: NonNullable<ProxyParts['upstreamGit']>): GitHistoryRef {
    return { repoId: this.repo.id, history: git.history };
  }

  /**
   * Brings the copy of the upstream git repository up to date at most once per TTL; false when the
   * upstream failed and the last sync is what there is (an error when there is none).
   */
  private async syncGit(): Promise<boolean> {
    const git = this.proxy.upstreamGit!;
    const now = Date.now();
    if (this.offline || now - this.gitSyncedAt < this.ttl) return true;
    const ref = this.gitRef(git);
    if (now < this.gitFailedUntil && (await historyTip(this.registry.db, ref)).head > 0) return false;
    return flight(this.gitFlight, 'sync', async () => {
      try {
        await syncUpstreamGit(this.registry, ref, { url: git.url(this.upstream), branch: git.branch }, this.search);
        this.registry.metrics.upstreamRequests.inc({ repo: this.repo.name, outcome: 'ok' });
        this.gitSyncedAt = Date.now();
        await this.health.answered();
        return true;
      } catch (err) {
        this.registry.metrics.upstreamRequests.inc({ repo: this.repo.name, outcome: 'failed' });
        await this.health.failed(err);
        this.gitFailedUntil = Date.now() + RETRY_AFTER_FAILURE_MS;
        if ((await historyTip(this.registry.db, ref)).head === 0) throw err;
        this.registry.log.warn(
          { repo: this.repo.name, err: (err as Error).message },
          `proxy ${this.repo.name}: upstream git index failed; serving the last synced copy`,
        );
        return false;
      }
    });
  }

  /** A document as the last sync of the upstream git repository has it (its git blob id is its upstream ETag). */
  private async gitDocument(path: string, held: DocEntry | undefined): Promise<UpstreamDocument> {
    const tip = await historyTip(this.registry.db, this.gitRef(this.proxy.upstreamGit!));
    const file = tip.files.get(path);
    if (!file || file.mode === '120000') return { status: 404 };
    if (held?.raw && held.upstreamEtag === file.blob) return { status: 304 };
    return { status: 200, body: Buffer.from(file.data), etag: file.blob };
  }

  private async loadArtifact(key: string): Promise<ArtifactRow | undefined> {
    const row = await this.registry.db
      .selectFrom('proxy_artifacts')
      .select(['sha256', 'size'])
      .where('repo_id', '=', this.repo.id)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return undefined;
    const found = { sha256: row.sha256, size: Number(row.size) };
    this.artifactRows.set(key, found);
    return found;
  }

  /** Downloads an artifact once, checks it against what the index promised, and only then stores it. */
  private async fetchArtifact(key: string): Promise<SourceArtifact | null> {
    const origin = await this.proxy.artifactOrigin(this.context, key);
    if (!origin) return null;
    const maxSize = origin.maxSize ?? this.registry.config.limits.maxArchiveSize;
    let staged: StagedBlob;
    try {
      const body = await this.fetcher.archive(origin.url, { trusted: origin.trusted, maxSize, what: origin.what, headers: origin.headers });
      if (!body) {
        this.registry.metrics.upstreamRequests.inc({ repo: this.repo.name, outcome: 'not_found' });
        this.missingArtifacts.set(key, true);
        await this.health.answered();
        return null;
      }
      this.registry.metrics.upstreamRequests.inc({ repo: this.repo.name, outcome: 'ok' });
      staged = await this.stageVerified(body, origin, maxSize);
    } catch (err) {
      // Our own blob store failing while the bytes came in is no fault of the upstream's.
      if (isBlobStoreUnavailable(err)) throw err;
      // A broken download or bytes that do not match their promise are upstream failures too.
      await this.health.failed(err);
      throw err;
    }
    await this.health.answered();
    const row = { sha256: staged.sha256, size: staged.size };
    await inTransaction(this.registry, async (uow) => {
      await storeBlob(uow, staged);
      await uow.trx
        .insertInto('proxy_artifacts')
        .values({ repo_id: this.repo.id, key, sha256: row.sha256, size: row.size, fetched_at: Date.now() })
        .onConflict((oc) => oc.columns(['repo_id', 'key']).doNothing())
        .execute();
    }).catch(async (err: unknown) => {
      await staged.discard();
      throw err;
    });
    this.artifactRows.set(key, row);
    const blob = await this.registry.blobs.open(row.sha256);
    if (!blob) fail('INTERNAL', `${origin.what} was stored but cannot be read back`);
    return { ...row, blob, countDownload: this.counter(key) };
  }

  /** Stages the bytes while hashing them (and feeding the format's check); a mismatch discards them. */
  private async stageVerified(body: Readable, origin: ArtifactOrigin, maxSize: number): Promise<StagedBlob> {
    const sha = createHash('sha256');
    const sri = origin.sri ? sriHasher(parseSri(origin.sri).algorithm) : null;
    const checkInput = origin.check ? new PassThrough() : null;
    const checked = checkInput && origin.check ? origin.check(checkInput) : Promise.resolve();
    // The check may fail early: its input is then dropped (the download goes on to its end, and is refused below).
    checked.catch(() => checkInput?.destroy());
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sha.update(chunk);
        sri?.update(chunk);
        if (!checkInput || checkInput.destroyed || checkInput.write(chunk)) return done(null, chunk);
        // Wait for the check to take more, or to stop (it failed: the bytes are refused after staging).
        const go = () => {
          checkInput.off('drain', go).off('close', go);
          done(null, chunk);
        };
        checkInput.on('drain', go).on('close', go);
      },
      flush(done) {
        checkInput?.end();
        done();
      },
    });
    body.on('error', (err) => hashing.destroy(err));
    // blobs.stage may await (its staging dir) before it listens: an early break must not go unhandled; stage sees it as `errored`.
    hashing.on('error', () => {});
    let staged: StagedBlob;
    try {
      staged = await this.registry.blobs.stage(body.pipe(hashing), { maxSize });
    } catch (err) {
      checkInput?.destroy();
      body.destroy();
      if (err instanceof LarderError && err.code !== 'INTERNAL') throw err;
      fail('UPSTREAM_FAILED', `${origin.what}: the download from ${new URL(origin.url).host} broke off; nothing was stored, try again`);
    }
    const refuse = async (why: string): Promise<never> => {
      await staged.discard();
      this.registry.metrics.integrityFailures.inc({ repo: this.repo.name });
      fail('UPSTREAM_INTEGRITY', `${origin.what} from ${new URL(origin.url).host} ${why}; it was not stored or served`);
    };
    if (origin.sha256 && sha.digest('hex') !== origin.sha256) await refuse('does not match the sha256 its index promised');
    if (origin.sri && sri && sri.digest() !== origin.sri) await refuse(`does not match the integrity ${origin.sri} its index promised`);
    try {
      await checked;
    } catch (err) {
      await refuse(err instanceof Error ? err.message : 'failed its check');
    }
    return staged;
  }
}

/** Runs `fn` once per key at a time: concurrent misses for one file share one upstream request. */
function flight<T>(flights: Map<string, Promise<T>>, key: string, fn: () => Promise<T>): Promise<T> {
  const running = flights.get(key);
  if (running) return running;
  const p = fn().finally(() => flights.delete(key));
  flights.set(key, p);
  return p;
}
