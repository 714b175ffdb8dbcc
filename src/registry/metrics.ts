import client from 'prom-client';
import { packCache } from './git-history/pack-cache.js';
import type { GroupCommitStats } from './group-commit.js';
import type { IndexDocStats } from './index-docs.js';
import { RequestStats } from './request-stats.js';

/** The Prometheus metrics of one server, in their own registry so several servers can share a process. */
export class Metrics {
  readonly registry = new client.Registry();
  /** larder_http_requests_total and larder_http_request_duration_seconds, kept as plain numbers (request-stats.ts). */
  readonly requests = new RequestStats();
  readonly publishes = new client.Counter({
    name: 'larder_publishes_total',
    help: 'Accepted publishes by repository and format',
    labelNames: ['repo', 'format'] as const,
    registers: [this.registry],
  });
  readonly publishFailures = new client.Counter({
    name: 'larder_publish_rejections_total',
    help: 'Refused publishes by repository, format and error code',
    labelNames: ['repo', 'format', 'code'] as const,
    registers: [this.registry],
  });

  readonly upstreamRequests = new client.Counter({
    name: 'larder_upstream_requests_total',
    help: 'Requests proxies made to their upstreams, by repository and outcome (ok, not_modified, not_found, failed)',
    labelNames: ['repo', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly staleServed = new client.Counter({
    name: 'larder_proxy_stale_served_total',
    help: 'Documents a proxy served from its cache because the upstream could not be reached',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });
  readonly integrityFailures = new client.Counter({
    name: 'larder_proxy_integrity_failures_total',
    help: 'Upstream artifacts refused because they did not match what the index promised',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });
  readonly confusionRefused = new client.Counter({
    name: 'larder_group_confusion_refused_total',
    help: 'Packages a group did not take from a proxy member because a hosted member holds that name',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });
  readonly downloads = new client.Counter({
    name: 'larder_downloads_total',
    help: 'Package downloads counted (whole GETs of an archive), by the repository that held it; added when counts are flushed',
    labelNames: ['repo', 'format'] as const,
    registers: [this.registry],
  });
  readonly gitCloneBytes = new client.Gauge({
    name: 'larder_git_index_clone_bytes',
    help: 'Bytes of the objects a full clone of a repository git index downloads (its packs), as last served',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });
  readonly registryConflicts = new client.Counter({
    name: 'larder_registry_conflicts_total',
    help: 'Packages (same name and UUID) held by two registries served together that do not trust each other',
    labelNames: ['repo'] as const,
    registers: [this.registry],
  });

  /** `groupStats`: SQLite's group commit so far (group-commit.ts); absent on PostgreSQL. */
  constructor(cacheStats: IndexDocStats, groupStats?: () => GroupCommitStats) {
    this.registry.registerMetric(this.requests.counterMetric() as never);
    this.registry.registerMetric(this.requests.histogramMetric() as never);
    new client.Gauge({
      name: 'larder_index_cache_hits_total',
      help: 'Index document reads answered from memory',
      registers: [this.registry],
      collect() {
        this.set(cacheStats.hits);
      },
    });
    new client.Gauge({
      name: 'larder_index_cache_misses_total',
      help: 'Index document reads that went to the database',
      registers: [this.registry],
      collect() {
        this.set(cacheStats.misses);
      },
    });
    new client.Gauge({
      name: 'larder_index_cache_hit_ratio',
      help: 'Share of index document reads answered from memory since start',
      registers: [this.registry],
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
        registers: [this.registry],
        collect() {
          this.set(value());
        },
      });
    }
    client.collectDefaultMetrics({ register: this.registry, prefix: 'larder_' });
  }
}
