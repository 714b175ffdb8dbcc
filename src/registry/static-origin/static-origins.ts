/** The static origins of a registry's repositories, kept up to date after every commit of an index document. */
import { LabelledCounter } from '../labelled-metrics.js';
import type { Registry } from '../registry.js';
import { StaticOrigin } from './origin.js';
import { openStaticTarget } from './target.js';

/** Waits before the second and third attempt of a failed write: a moment's outage passes, a lasting one is left to sync. */
const RETRY_DELAYS_MS = [100, 1_000];

/** Every repo's static origin, hooked to the index documents' commits (IndexDocs.onCommitted). */
export class StaticOrigins {
  private readonly byId = new Map<number, StaticOrigin>();
  private readonly writes = new LabelledCounter<'repo'>(
    'larder_static_origin_writes_total',
    'Index documents brought up to date in a static origin after a commit, by repository',
  );
  private readonly failures = new LabelledCounter<'repo'>(
    'larder_static_origin_write_failures_total',
    'Index documents a static origin could not be brought up to date with after a commit (`larder static-origin sync` repairs them)',
  );

  private constructor(
    private readonly registry: Registry,
    origins: StaticOrigin[],
  ) {
    for (const o of origins) this.byId.set(o.repo.id, o);
    registry.metrics.add(this.writes);
    registry.metrics.add(this.failures);
  }

  /** Opens the static origin of every repo that has `static_origin` set and follows commits; null when none has. */
  static async open(registry: Registry): Promise<StaticOrigins | null> {
    const origins: StaticOrigin[] = [];
    try {
      for (const repo of registry.repos.values()) {
        const pathsOf = registry.formats.get(repo.format)?.staticPaths;
        if (!repo.staticOrigin || !pathsOf) continue;
        origins.push(new StaticOrigin(repo, await openStaticTarget(repo.staticOrigin), pathsOf, registry.db));
      }
    } catch (err) {
      await Promise.all(origins.map((o) => o.close()));
      throw err;
    }
    if (origins.length === 0) return null;
    const opened = new StaticOrigins(registry, origins);
    registry.docs.onCommitted((repoId, path) => opened.committed(repoId, path));
    return opened;
  }

  /** The static origin of a repo, if it has one. */
  of(repoId: number): StaticOrigin | undefined {
    return this.byId.get(repoId);
  }

  /**
   * Brings the files of a document that just committed up to date, retrying twice. Never throws: the write it follows
   * has committed and is acknowledged whatever happens here; a failure is logged and counted, and sync repairs it.
   */
  async committed(repoId: number, docPath: string): Promise<void> {
    const origin = this.byId.get(repoId);
    if (!origin || origin.pathsOf(docPath).length === 0) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await origin.refresh(docPath);
        this.writes.inc({ repo: origin.repo.name });
        return;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          this.failures.inc({ repo: origin.repo.name });
          this.registry.log.warn(
            { repo: origin.repo.name, path: docPath, target: origin.target.label, err: (err as Error).message },
            `static origin not updated; run \`larder static-origin sync ${origin.repo.name}\` once ${origin.target.label} is writable`,
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.byId.values()].map((o) => o.close()));
  }
}
