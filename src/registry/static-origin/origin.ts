/** One repository's static origin: its documents mirrored as files, brought up to date after each commit. */
import type { Db } from '../../storage/db.js';
import type { Repo } from '../repos.js';
import { staticContentType, type StaticTarget } from './target.js';

/** A document row as the static origin compares it: null when the document is gone. */
type Row = { body: Buffer; etag: string } | null;

/** Writes and deletes the files of one repo's documents; every method reads the committed row, never a caller's bytes. */
export class StaticOrigin {
  /** Refreshes in flight or queued, per document: one path is never written by two refreshes of this process at once. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    readonly repo: Repo,
    readonly target: StaticTarget,
    /** The format's `staticPaths`: where each document is served (empty: not served as a file). */
    readonly pathsOf: (docPath: string) => string[],
    private readonly db: Db,
  ) {}

  /**
   * Makes the files of `docPath` hold the document's committed bytes (or deletes them when it is gone). Refreshes
   * of one path run one after another; each re-reads the row after writing and writes again if it moved meanwhile,
   * so whichever writer (this process or another) renames last, the files end with the latest commit's bytes.
   */
  refresh(docPath: string): Promise<void> {
    const paths = this.pathsOf(docPath);
    if (paths.length === 0) return Promise.resolve();
    const previous = this.queues.get(docPath) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.bringUpToDate(docPath, paths));
    this.queues.set(docPath, next);
    const forget = () => {
      if (this.queues.get(docPath) === next) this.queues.delete(docPath);
    };
    next.then(forget, forget);
    return next;
  }

  private async bringUpToDate(docPath: string, paths: string[]): Promise<void> {
    let row = await this.read(docPath);
    for (let round = 0; ; round++) {
      for (const p of paths) {
        if (row) await this.target.put(p, row.body, staticContentType(p));
        else await this.target.delete(p);
      }
      const now = await this.read(docPath, false);
      if ((now?.etag ?? null) === (row?.etag ?? null)) return;
      // Another commit landed while writing: its writer may have finished before this rename. Write again.
      if (round >= 20) throw new Error(`${docPath} kept changing while it was written`);
      row = await this.read(docPath);
    }
  }

  private async read(docPath: string, withBody = true): Promise<Row> {
    const row = await this.db
      .selectFrom('index_docs')
      .select(withBody ? ['body', 'etag'] : ['etag'])
      .where('repo_id', '=', this.repo.id)
      .where('path', '=', docPath)
      .executeTakeFirst();
    if (!row) return null;
    const body = (row as { body?: Uint8Array }).body;
    return { body: body ? Buffer.from(body) : Buffer.alloc(0), etag: row.etag };
  }

  close(): Promise<void> {
    return this.target.close();
  }
}
