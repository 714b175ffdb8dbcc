/**
 * A proxy's latest upstream outcome, kept in `proxy_health` so that every node shows the same health: when the
 * upstream last answered (any answer, a 404 included) and when it last failed, and how. Written when the outcome
 * changes, otherwise at most once a minute per process: a row write per upstream request would double the writes of
 * every proxied read.
 */
import { LarderError } from '../core/errors.js';
import type { Registry } from '../registry/registry.js';

/** How often an unchanged outcome is written again (so another node's older outcome is overwritten within this time). */
export const HEALTH_REFRESH_MS = 60_000;
const MAX_FAILURE_LENGTH = 500;

/** Records one proxy's upstream outcomes; a failed bookkeeping write is logged, never passed to the request. */
export class UpstreamHealthRecorder {
  private last: { outcome: 'ok' | 'failed'; at: number } | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly repo: { id: number; name: string },
  ) {}

  /** The upstream answered (200, 304 or 404). */
  async answered(): Promise<void> {
    await this.write('ok', { ok_at: Date.now() });
  }

  /**
   * The upstream failed (UPSTREAM_* or an unexpected error); the message kept is the one a client was told (LarderErrors
   * never echo upstream bodies). Larder's own refusals (an address rule, a size limit) say nothing of the upstream.
   */
  async failed(err: unknown): Promise<void> {
    if (err instanceof LarderError && !err.code.startsWith('UPSTREAM_')) return;
    const failure =
      err instanceof LarderError ? err.message.slice(0, MAX_FAILURE_LENGTH) : 'unexpected error (the server log has the details)';
    await this.write('failed', { failed_at: Date.now(), failure });
  }

  private async write(outcome: 'ok' | 'failed', set: { ok_at: number } | { failed_at: number; failure: string }): Promise<void> {
    const now = Date.now();
    if (this.last?.outcome === outcome && now - this.last.at < HEALTH_REFRESH_MS) return;
    this.last = { outcome, at: now };
    try {
      await this.registry.db
        .insertInto('proxy_health')
        .values({ repo_id: this.repo.id, ok_at: null, failed_at: null, failure: null, ...set })
        .onConflict((oc) => oc.column('repo_id').doUpdateSet(set))
        .execute();
    } catch (err) {
      this.last = null;
      this.registry.log.warn(
        { repo: this.repo.name, err: (err as Error).message },
        `proxy ${this.repo.name}: could not record upstream health`,
      );
    }
  }
}
