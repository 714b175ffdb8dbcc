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
  /** When the holdings above were counted (they are reused for a while: HOLDINGS_MAX_AGE_MS). */
  countedAt: number;
}

/**
 * How long counted holdings are reused: a count reads the proxy's whole range of an index (some 20 ms per 100 000
 * documents on SQLite), too much for every start page; health is read fresh every time (one row).
 */
export const HOLDINGS_MAX_AGE_MS = 30_000;

type Holdings = Pick<ProxyStats, 'documents' | 'staleDocuments' | 'artifacts' | 'artifactBytes' | 'countedAt'>;

/** The last count of each proxy (per registry, so per process), and the count in flight that requests share. */
const counted = new WeakMap<Registry, Map<number, { holdings?: Holdings; counting?: Promise<Holdings> }>>();

/**
 * The statistics of each proxy among `repos` (by repo id); repos of other kinds have none. Holdings counted less
 * than `maxAgeMs` ago (default HOLDINGS_MAX_AGE_MS) are reused; `now` is when documents count as stale.
 */
export async function proxyStats(
  registry: Registry,
  repos: readonly Repo[],
  { now = Date.now(), maxAgeMs = HOLDINGS_MAX_AGE_MS }: { now?: number; maxAgeMs?: number } = {},
): Promise<Map<number, ProxyStats>> {
  const proxies = repos.flatMap((repo) => {
    const source = registry.sources.get(repo.name);
    return source instanceof ProxySource ? [{ repo, source }] : [];
  });
  const stats = new Map<number, ProxyStats>();
  if (proxies.length === 0) return stats;
  const ids = proxies.map((p) => p.repo.id);
  const [health, holdings] = await Promise.all([
    registry.db.selectFrom('proxy_health').selectAll().where('repo_id', 'in', ids).execute(),
    Promise.all(proxies.map(({ repo }) => holdingsOf(registry, repo, now, maxAgeMs))),
  ]);
  const healthOf = new Map(health.map((r) => [Number(r.repo_id), r]));
  proxies.forEach(({ repo, source }, i) => {
    const offline = repo.offline ?? false;
    const h = healthOf.get(repo.id);
    const lastAnsweredAt = h?.ok_at == null ? null : Number(h.ok_at);
    const lastFailedAt = h?.failed_at == null ? null : Number(h.failed_at);
    stats.set(repo.id, {
      upstream: source.upstream,
      state: offline ? 'offline' : upstreamState(lastAnsweredAt, lastFailedAt),
      lastAnsweredAt,
      lastFailedAt,
      lastFailure: lastFailedAt === null ? null : (h?.failure ?? null),
      ttlMs: repo.ttl ?? DEFAULT_TTL_MS,
      ...holdings[i]!,
    });
  });
  return stats;
}

/** A proxy's holdings, counted anew when the last count is older than `maxAgeMs` (or later than `now`). */
async function holdingsOf(registry: Registry, repo: Repo, now: number, maxAgeMs: number): Promise<Holdings> {
  let byRepo = counted.get(registry);
  if (!byRepo) counted.set(registry, (byRepo = new Map()));
  let entry = byRepo.get(repo.id);
  if (!entry) byRepo.set(repo.id, (entry = {}));
  const last = entry.holdings;
  if (last && last.countedAt <= now && now - last.countedAt < maxAgeMs) return last;
  if (entry.counting) return entry.counting;
  const e = entry;
  const counting = countHoldings(registry, repo, now).finally(() => (e.counting = undefined));
  e.counting = counting;
  // A failed count is not kept: the caller sees the error, the next request counts again.
  counting.then((h) => (e.holdings = h)).catch(() => {});
  return counting;
}

/** Two aggregates over covering indexes (migration 0009): proxy_docs_age and proxy_artifacts_size. */
async function countHoldings(registry: Registry, repo: Repo, now: number): Promise<Holdings> {
  const offline = repo.offline ?? false;
  const [docs, artifacts] = await Promise.all([
    registry.db
      .selectFrom('proxy_docs')
      .select([
        (eb) => eb.fn.countAll<number | string>().as('n'),
        sql<
          number | string | null
        >`sum(case when immutable = 0 and fetched_at <= ${now - (repo.ttl ?? DEFAULT_TTL_MS)} then 1 else 0 end)`.as('stale'),
      ])
      .where('repo_id', '=', repo.id)
      .where('status', '=', 200)
      .executeTakeFirst(),
    registry.db
      .selectFrom('proxy_artifacts')
      .select([(eb) => eb.fn.countAll<number | string>().as('n'), (eb) => eb.fn.sum<number | string | null>('size').as('bytes')])
      .where('repo_id', '=', repo.id)
      .executeTakeFirst(),
  ]);
  return {
    documents: Number(docs?.n ?? 0),
    staleDocuments: offline ? 0 : Number(docs?.stale ?? 0),
    artifacts: Number(artifacts?.n ?? 0),
    artifactBytes: Number(artifacts?.bytes ?? 0),
    countedAt: now,
  };
}

function upstreamState(answeredAt: number | null, failedAt: number | null): UpstreamState {
  if (answeredAt === null && failedAt === null) return 'unknown';
  if (failedAt === null) return 'answering';
  return answeredAt !== null && answeredAt >= failedAt ? 'answering' : 'failing';
}
