import path from 'node:path';
import type { LarderConfig } from '../core/config.js';
import type { BlobStore } from '../storage/blobs.js';
import { openDatabase, type Db, type DatabaseHandle, type Dialect } from '../storage/db.js';
import { FsBlobStore } from '../storage/fs-blobs.js';
import { loadUndici, OutboundClient } from '../upstream/outbound.js';
import { openSources } from '../upstream/sources.js';
import { upstreamFetch } from '../upstream/upstream-fetch.js';
import { parseS3Url, S3BlobStore } from '../storage/s3-blobs.js';
import { Auth } from './auth.js';
import type { FormatCore } from './format.js';
import type { Source } from './source.js';
import { clusterPeers } from './cluster-peers.js';
import { announceIndexChange, listenForIndexChanges, type ChangeFeed, type IndexChangeListener } from './events.js';
import { IndexDocs } from './index-docs.js';
import { groupCommitStats } from './group-commit.js';
import { DownloadCounter } from './downloads.js';
import { Metrics } from './metrics.js';
import { logIndexChange, newOrigin, watchSqliteChanges, type SqliteChangeWatcher } from './sqlite-changes.js';
import { syncRepos, type Repo } from './repos.js';
import { UploadBudget } from './upload-budget.js';
import { reapScratchDirs } from '../storage/staging.js';
import { StaticOrigins } from './static-origin/static-origins.js';

/** The format-independent services every route and command works through. */
export interface Registry {
  config: LarderConfig;
  db: Db;
  dialect: Dialect;
  blobs: BlobStore;
  docs: IndexDocs;
  auth: Auth;
  metrics: Metrics;
  repos: Map<string, Repo>;
  formats: Map<string, FormatCore>;
  /** The one outbound HTTP client (address rules, redirects re-checked, bounded): every server-side fetch uses it. */
  outbound: OutboundClient;
  /** The memory bound every buffered upload reserves from ([uploads] in larder.toml). */
  uploads: UploadBudget;
  /** Where services log what an operator should see (the server sets its logger; silent otherwise). */
  log: RegistryLog;
  /** The source each repo is served from (hosted, proxy or group), set up by the composition root. */
  sources: Map<string, Source>;
  /** Downloads counted in memory, written to package_downloads every few seconds and on close. */
  downloads: DownloadCounter;
  /** Whether other nodes' changes reach this process now (PostgreSQL: LISTEN established); /-/readyz reports it. */
  changes: ChangeFeed;
  /** Repos with `static_origin`: their documents also written as files after each commit (null: none configured). */
  staticOrigins?: StaticOrigins | null;
  /** Writes what is still held in memory (download counts), then closes storage. */
  close(): Promise<void>;
}

/** The part of a pino logger services use. */
export interface RegistryLog {
  warn(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
}

const silent: RegistryLog = { warn: () => {}, info: () => {} };

/** Opens storage for a config, migrates it, and syncs the configured repositories. */
export async function openRegistry(config: LarderConfig, formats: FormatCore[]): Promise<Registry> {
  const handle: DatabaseHandle = await openDatabase(
    config.database,
    formats.flatMap((f) => f.migrations),
  );
  let listener: IndexChangeListener | null = null;
  let watcher: SqliteChangeWatcher | null = null;
  let counter: DownloadCounter | null = null;
  let opened: Registry | null = null;
  try {
    const repos = await syncRepos(handle.db, config.repos);
    const shared = config.database.kind === 'postgres';
    // Sibling worker processes learn of changes through the primary (and answer before the write is acknowledged).
    const peers = clusterPeers((repoId, p) => docs.invalidate(repoId, p));
    const origin = newOrigin();
    // Every change is announced inside its transaction: PostgreSQL NOTIFY, or a row in SQLite's index_changes.
    const docs: IndexDocs = new IndexDocs(
      handle.db,
      shared
        ? async (uow, repoId, paths) => {
            for (const p of paths) await announceIndexChange(uow.trx, repoId, p);
          }
        : (uow, repoId, paths) => logIndexChange(uow.trx, origin, repoId, paths),
      peers,
      config.cache.indexDocuments,
    );
    // Other nodes and processes change index documents too; their commits reach this process's cache.
    if (config.database.kind === 'postgres') {
      listener = await listenForIndexChanges(config.database.url, {
        onChange: (repoId, p) => docs.invalidate(repoId, p),
        onReconnected: () => docs.clear(),
        // `opened` is set below; an outage before then has no logger to report to yet.
        log: (msg, err) => opened?.log.warn(err ? { err: (err as Error).message } : {}, msg),
      });
    } else if (config.database.path !== ':memory:') {
      watcher = watchSqliteChanges(
        config.database.path,
        (repoId, p) => docs.invalidate(repoId, p),
        () => docs.clear(),
        { origin },
      );
    }
    const blobs =
      config.blobs === 'fs'
        ? new FsBlobStore(path.join(config.data, 'blobs'))
        : await S3BlobStore.open(parseS3Url(config.blobs), path.join(config.data, 'blobs', 'tmp'));
    // What a killed process was staging will never be committed by anyone.
    await blobs.reapStaging();
    await reapScratchDirs();
    const auth = new Auth(handle.db);
    await auth.ensureAdminUser();
    const outbound = new OutboundClient(config.outbound);
    // Proxies will make outbound requests: load undici now rather than inside the first one's [outbound] timeout.
    if (repos.some((r) => r.kind === 'proxy')) loadUndici().catch(() => {});
    const fetcher = upstreamFetch(outbound);
    const metrics = new Metrics(docs.stats, handle.dialect === 'sqlite' ? () => groupCommitStats(handle.db) : undefined);
    const formatsByName = new Map(formats.map((f) => [f.format, f]));
    const downloads = (counter = new DownloadCounter({
      db: handle.db,
      dialect: handle.dialect,
      partsOf: (repo) => formatsByName.get(repo.format)?.parts,
      onFlushed: (repo, n) => metrics.downloads.inc({ repo: repo.name, format: repo.format }, n),
      onError: (err) =>
        registry.log.warn({ err: (err as Error).message }, 'download counts could not be written; they are kept for the next try'),
    }));
    const registry: Registry = {
      config,
      db: handle.db,
      dialect: handle.dialect,
      blobs,
      docs,
      auth,
      metrics,
      repos: new Map(repos.map((r) => [r.name, r])),
      formats: formatsByName,
      outbound,
      uploads: new UploadBudget(config.uploads.memory, config.uploads.waitMs),
      log: silent,
      sources: new Map(),
      downloads,
      changes: listener ?? { listening: true },
      close: async () => {
        // Counts first, while the database is open; a failed write is logged, and closing goes on.
        await downloads.close();
        await outbound.close();
        await registry.staticOrigins?.close();
        watcher?.close();
        await listener?.close();
        await blobs.close();
        await handle.close();
      },
    };
    // Before initRepo, so what a new repo starts with (Bazel's bazel_registry.json) reaches its static origin too.
    registry.staticOrigins = await StaticOrigins.open(registry);
    for (const repo of repos) if (repo.kind === 'hosted') await registry.formats.get(repo.format)?.initRepo?.(registry, repo);
    registry.sources = openSources(registry, fetcher);
    opened = registry;
    return registry;
  } catch (err) {
    await counter?.close();
    watcher?.close();
    await listener?.close();
    await handle.close();
    throw err;
  }
}
