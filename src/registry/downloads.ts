/**
 * Download counts (issue 12): each artifact sent to a client is counted in memory, and the counts are
 * added to `package_downloads` in batches (every few seconds, and on close) with one upsert per
 * (repo, package, version), so a download costs one Map increment and no database write of its own.
 * Several processes (workers, nodes) each flush their own counts; the upsert adds them up.
 */
import { sql } from 'kysely';
import type { Db, Dialect } from '../storage/db.js';
import type { Repo } from './repos.js';
import type { SourceParts } from './source-parts.js';
import { inTransaction } from './tx.js';

/** How often counts are written when nothing asks sooner. */
export const DOWNLOAD_FLUSH_MS = 5_000;

/** Rows per upsert statement (well below SQLite's bound-parameter limit). */
const ROWS_PER_STATEMENT = 200;

export interface DownloadCounterOptions {
  db: Db;
  dialect: Dialect;
  /** The source parts of a repo's format (which package and version an artifact key is a download of). */
  partsOf(repo: Repo): SourceParts | undefined;
  /** Told after each flush how many downloads of a repo were written (the metric). */
  onFlushed?(repo: Repo, count: number): void;
  /** Told when a flush fails (its counts are kept for the next one). */
  onError?(err: unknown): void;
  /** 0: no timer (flushes happen only when asked). */
  intervalMs?: number;
}

/** Counts artifact downloads per repo and artifact key, and writes them to package_downloads now and then. */
export class DownloadCounter {
  /** repo → artifact key → downloads not yet written. */
  private pending = new Map<Repo, Map<string, number>>();
  private running: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout | null;
  private closed = false;

  constructor(private readonly options: DownloadCounterOptions) {
    const every = options.intervalMs ?? DOWNLOAD_FLUSH_MS;
    this.timer = every > 0 ? setInterval(() => void this.flush().catch(() => {}), every) : null;
    // A command that opens the registry must not be kept alive by the timer.
    this.timer?.unref();
  }

  /** Counts one download of `key` from `repo` (the repo that holds the bytes, not a group in front of it). */
  count(repo: Repo, key: string): void {
    this.add(repo, key, 1);
  }

  /** Writes every count taken so far; resolves once they are in the database (or kept again after a failure). */
  async flush(): Promise<void> {
    // One flush at a time: a caller that arrives while one runs waits for it, then writes what came since.
    while (this.running) await this.running;
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    this.running = this.write(taken)
      .catch((err: unknown) => {
        this.restore(taken);
        this.options.onError?.(err);
      })
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }

  /** Stops the timer and writes what is left; counts taken after this are written by the next `flush()` only. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.closed) return;
    this.closed = true;
    await this.flush();
  }

  private async write(taken: Map<Repo, Map<string, number>>): Promise<void> {
    const rows = new Map<string, { repo_id: number; package: string; version: string; count: number }>();
    const perRepo = new Map<Repo, number>();
    for (const [repo, keys] of taken) {
      const parts = this.options.partsOf(repo);
      for (const [key, n] of keys) {
        // Keys that are no package's version (content-addressed caches, registry tarballs) are not counted.
        const of = parts?.downloadOf?.(key);
        if (!of) continue;
        const id = `${repo.id}\0${of.package}\0${of.version}`;
        const row = rows.get(id);
        if (row) row.count += n;
        else rows.set(id, { repo_id: repo.id, package: of.package, version: of.version, count: n });
        perRepo.set(repo, (perRepo.get(repo) ?? 0) + n);
      }
    }
    if (rows.size === 0) return;
    const values = [...rows.values()];
    await inTransaction(this.options, async ({ trx }) => {
      for (let i = 0; i < values.length; i += ROWS_PER_STATEMENT) {
        await trx
          .insertInto('package_downloads')
          .values(values.slice(i, i + ROWS_PER_STATEMENT))
          .onConflict((oc) =>
            oc.columns(['repo_id', 'package', 'version']).doUpdateSet({ count: sql<number>`package_downloads.count + excluded.count` }),
          )
          .execute();
      }
    });
    for (const [repo, n] of perRepo) this.options.onFlushed?.(repo, n);
  }

  /** Puts counts whose write failed back, added to whatever was counted meanwhile. */
  private restore(taken: Map<Repo, Map<string, number>>): void {
    for (const [repo, keys] of taken) for (const [key, n] of keys) this.add(repo, key, n);
  }

  private add(repo: Repo, key: string, n: number): void {
    let keys = this.pending.get(repo);
    if (!keys) this.pending.set(repo, (keys = new Map()));
    keys.set(key, (keys.get(key) ?? 0) + n);
  }
}
