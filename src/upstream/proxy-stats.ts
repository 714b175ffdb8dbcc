/**
 * What a proxy holds and how its upstream is doing, for the start page and the admin's repository list. Every number
 * is an aggregate over an index (migration 0009): no row is read, so the start page stays fast however much is held.
 */
import { sql } from 'kysely';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import { DEFAULT_TTL_MS, ProxySource } from './proxy-source.js';

/**
 * The upstream's health: the latest outcome any node recorded (proxy-health.ts). `answering` when its last answer
 * is newer than its last failure, `failing` otherwise; `unknown` before it was first asked; `offline` when the
 * proxy never asks (it serves what it holds).
 */
export type UpstreamState = 'answering' | 'failing' | 'unknown' | 'offline';

export interface ProxyStats {
  /** The upstream base URL the proxy reads. */
  upstream: string;
  state: UpstreamState;
  /** When the upstream last answered, and last failed (with what a client was told). */
  lastAnsweredAt: number | null;
  lastFailedAt: number | null;
  lastFailure: string | null;
  /** Documents held (the upstream had them). */
  documents: number;
  /** Held documents past their lifetime: the next request for one asks the upstream again (0 when offline). */
  staleDocuments: number;
  /** How long a mutable document is served before it is asked again. */
  ttlMs: number;
  /** Artifacts held, and their bytes (each verified blob as stored). */
  artifacts: number;
  artifactBytes: number;
}

/** The statistics of each proxy among `repos` (by repo id); repos of other kinds have none. */
export async function proxyStats(registry: Registry, repos: readonly Repo[], now = Date.now()): Promise<Map<number, ProxyStats>> {
  const proxies = repos.flatMap((repo) => {
    const source = registry.sources.get(repo.name);
    return source instanceof ProxySource ? [{ repo, source }] : [];
  });
  const stats = new Map<number, ProxyStats>();
  if (proxies.length === 0) return stats;
  const ids = proxies.map((p) => p.repo.id);
  const [artifacts, health] = await Promise.all([
    registry.db
      .selectFrom('proxy_artifacts')
      .select(['repo_id', (eb) => eb.fn.countAll<number | string>().as('n'), (eb) => eb.fn.sum<number | string | null>('size').as('bytes')])
      .where('repo_id', 'in', ids)
      .groupBy('repo_id')
      .execute(),
    registry.db.selectFrom('proxy_health').selectAll().where('repo_id', 'in', ids).execute(),
  ]);
  const artifactsOf = new Map(artifacts.map((r) => [Number(r.repo_id), r]));
  const healthOf = new Map(health.map((r) => [Number(r.repo_id), r]));
  for (const { repo, source } of proxies) {
    const ttlMs = repo.ttl ?? DEFAULT_TTL_MS;
    const offline = repo.offline ?? false;
    // The cutoff is per repo (its TTL), so one aggregate per proxy: a range of proxy_docs_age each.
    const docs = await registry.db
      .selectFrom('proxy_docs')
      .select([
        (eb) => eb.fn.countAll<number | string>().as('n'),
        sql<number | string | null>`sum(case when immutable = 0 and fetched_at <= ${now - ttlMs} then 1 else 0 end)`.as('stale'),
      ])
      .where('repo_id', '=', repo.id)
      .where('status', '=', 200)
      .executeTakeFirst();
    const h = healthOf.get(repo.id);
    const lastAnsweredAt = h?.ok_at == null ? null : Number(h.ok_at);
    const lastFailedAt = h?.failed_at == null ? null : Number(h.failed_at);
    const a = artifactsOf.get(repo.id);
    stats.set(repo.id, {
      upstream: source.upstream,
      state: offline ? 'offline' : upstreamState(lastAnsweredAt, lastFailedAt),
      lastAnsweredAt,
      lastFailedAt,
      lastFailure: lastFailedAt === null ? null : (h?.failure ?? null),
      documents: Number(docs?.n ?? 0),
      staleDocuments: offline ? 0 : Number(docs?.stale ?? 0),
      ttlMs,
      artifacts: Number(a?.n ?? 0),
      artifactBytes: Number(a?.bytes ?? 0),
    });
  }
  return stats;
}

function upstreamState(answeredAt: number | null, failedAt: number | null): UpstreamState {
  if (answeredAt === null && failedAt === null) return 'unknown';
  if (failedAt === null) return 'answering';
  return answeredAt !== null && answeredAt >= failedAt ? 'answering' : 'failing';
}
