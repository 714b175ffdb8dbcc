import type { Registry as PromRegistry } from 'prom-client';
import { importCjs } from '../core/cjs.js';
import type { PackCache } from './git-history/pack-cache.js';
import type { GroupCommitStats } from './group-commit.js';
import type { IndexDocStats } from './index-docs.js';
import { LabelledCounter, LabelledGauge } from './labelled-metrics.js';
import { RequestStats, type CustomMetric } from './request-stats.js';

/**
 * The Prometheus metrics of one server, in their own registry so several servers can share a process. Everything is
 * counted as plain numbers from the start; prom-client (the registry, the exposition format, the process's default
 * metrics) is loaded by `exposition()`, which `larder serve` calls once it listens (cold start, issue 14).
 */
export class Metrics {
  /** larder_http_requests_total and larder_http_request_duration_seconds, kept as plain numbers (request-stats.ts). */
  readonly requests = new RequestStats();
  readonly publishes = new LabelledCounter<'repo' | 'format'>('larder_publishes_total', 'Accepted publishes by repository and format');
  readonly publishFailures = new LabelledCounter<'repo' | 'format' | 'code'>(
    'larder_publish_rejections_total',
    'Refused publishes by repository, format and error code',
  );
  readonly upstreamRequests = new LabelledCounter<'repo' | 'outcome'>(
    'larder_upstream_requests_total',
    'Requests proxies made to their upstreams, by repository and outcome (ok, not_modified, not_found, failed)',
  );
  readonly staleServed = new LabelledCounter<'repo'>(
    'larder_proxy_stale_served_total',
    'Documents a proxy served from its cache because the upstream could not be reached',
  );
  readonly integrityFailures = new LabelledCounter<'repo'>(
    'larder_proxy_integrity_failures_total',
    'Upstream artifacts refused because they did not match what the index promised',
  );
  readonly confusionRefused = new LabelledCounter<'repo'>(
    'larder_group_confusion_refused_total',
    'Packages a group did not take from a proxy member because a hosted member holds that name',
  );
  readonly downloads = new LabelledCounter<'repo' | 'format'>(
    'larder_downloads_total',
    'Package downloads counted (whole GETs of an archive), by the repository that held it; added when counts are flushed',
  );
  readonly gitCloneBytes = new LabelledGauge<'repo'>(
    'larder_git_index_clone_bytes',
    'Bytes of the objects a full clone of a repository git index downloads (its packs), as last served',
  );
  readonly registryConflicts = new LabelledCounter<'repo'>(
    'larder_registry_conflicts_total',
    'Packages (same name and UUID) held by two registries served together that do not trust each other',
  );
  /** Metrics other services add (static origins), in the order they were added. */
  private readonly added: CustomMetric[] = [];
  private registry: Promise<PromRegistry> | null = null;
  private built: PromRegistry | null = null;

  /** `groupStats`: SQLite's group commit so far (group-commit.ts); absent on PostgreSQL. */
  constructor(
    private readonly cacheStats: IndexDocStats,
    private readonly groupStats?: () => GroupCommitStats,
  ) {}

  /** Adds a metric of another service to those exposed. */
  add(metric: CustomMetric): void {
    if (this.built) this.built.registerMetric(metric as never);
    else this.added.push(metric);
  }

  /** The prom-client registry every metric is exposed through (/-/metrics), made on first call. */
  exposition(): Promise<PromRegistry> {
    return (this.registry ??= Promise.all([importCjs(import('prom-client')), import('./git-history/pack-cache.js')]).then(
      ([client, { packCache }]) => this.build(client, packCache),
    ));
  }

  private build(client: typeof import('prom-client'), packCache: PackCache): PromRegistry {
    const registry = new client.Registry();
    for (const m of [
      this.publishes,
      this.publishFailures,
      this.upstreamRequests,
      this.staleServed,
      this.integrityFailures,
      this.confusionRefused,
      this.downloads,
      this.gitCloneBytes,
      this.registryConflicts,
      this.requests.counterMetric(),
      this.requests.histogramMetric(),
    ])
      registry.registerMetric(m as never);
    const { cacheStats, groupStats } = this;
    new client.Gauge({
      name: 'larder_index_cache_hits_total',
      help: 'Index document reads answered from memory',
      registers: [registry],
      collect() {
        this.set(cacheStats.hits);
      },
    });
    new client.Gauge({
      name: 'larder_index_cache_misses_total',
      help: 'Index document reads that went to the database',
      registers: [registry],
      collect() {
        this.set(cacheStats.misses);
      },
    });
    new client.Gauge({
      name: 'larder_index_cache_hit_ratio',
      help: 'Share of index document reads answered from memory since start',
      registers: [registry],
      collect() {
        const total = cacheStats.hits + cacheStats.misses;
        this.set(total === 0 ? 0 : cacheStats.hits / total);
      },
    });
    const cacheGauges: Array<[name: string, help: string, value: () => number]> = [
      [
        'larder_index_cache_bytes',
        'Bytes the cached index documents are accounted at (bodies, validators, keys and per-entry overhead)',
        () => cacheStats.bytes,
      ],
      ['larder_git_pack_cache_hits_total', 'git clones answered with a pack made for an identical earlier clone', () => packCache.hits],
      ['larder_git_pack_cache_misses_total', 'git clones that asked git for their pack (cacheable requests only)', () => packCache.misses],
      ['larder_git_pack_cache_bytes', 'Bytes of clone answers held in memory', () => packCache.bytes],
      ['larder_index_cache_entries', 'Index documents (and remembered absences) held in memory', () => cacheStats.entries],
      [
        'larder_index_cache_budget_bytes',
        'The most the cached index documents may be accounted at ([cache] index_documents)',
        () => cacheStats.budget,
      ],
    ];
    if (groupStats) {
      cacheGauges.push(
        ['larder_sqlite_group_commits_total', 'SQLite write transactions of grouped units (publishes)', () => groupStats().groups],
        [
          'larder_sqlite_group_units_total',
          'Units run in grouped SQLite transactions (divided by commits: the mean group)',
          () => groupStats().units,
        ],
      );
    }
    for (const [name, help, value] of cacheGauges) {
      new client.Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value());
        },
      });
    }
    client.collectDefaultMetrics({ register: registry, prefix: 'larder_' });
    for (const m of this.added) registry.registerMetric(m as never);
    this.built = registry;
    return registry;
  }
}
