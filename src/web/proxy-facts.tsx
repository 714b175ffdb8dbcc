/** What the start page and the admin's repository list say of a proxy: its upstream, health, cache and stale documents. */
import { formatSize } from '../core/units.js';
import { HOLDINGS_MAX_AGE_MS, type ProxyStats, type UpstreamState } from '../upstream/proxy-stats.js';
import { DateTimeText } from './components.js';

/** What "health" means, said once on every page that shows it. */
export const HEALTH_MEANING =
  "A proxy's health is the outcome of its latest request to the upstream, whichever Larder node made it: answering, or " +
  'failing (what it holds is then served marked stale, and what it does not hold fails with 502). Stale documents are held ' +
  'copies past their lifetime: the next request for one asks the upstream again. What a proxy holds is counted at most ' +
  `${HOLDINGS_MAX_AGE_MS / 1000} seconds ago.`;

const STATE_TEXT: Record<UpstreamState, string> = {
  answering: 'answering',
  failing: 'failing',
  unknown: 'not asked yet',
  offline: 'offline',
};

const BADGE_CLASS: Record<UpstreamState, string> = { answering: 'badge ok', failing: 'badge warn', unknown: 'badge', offline: 'badge' };

/** "10 min", "1 h", "30 s": a document lifetime as people say it. */
function lifetimeText(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** The health badge and when it was last seen so; `detail` adds the failure as clients were told it (admin pages). */
export function UpstreamHealth({ stats, detail = false }: { stats: ProxyStats; detail?: boolean }) {
  return (
    <>
      <span class={BADGE_CLASS[stats.state]}>{STATE_TEXT[stats.state]}</span>{' '}
      {stats.state === 'answering' && (
        <span class="muted">
          last answer <DateTimeText at={stats.lastAnsweredAt} />
        </span>
      )}
      {stats.state === 'failing' && (
        <span class="muted">
          failed <DateTimeText at={stats.lastFailedAt} />, last answer <DateTimeText at={stats.lastAnsweredAt} />
        </span>
      )}
      {stats.state === 'offline' && <span class="muted">serves what it holds, never asks</span>}
      {detail && stats.state === 'failing' && stats.lastFailure && <p class="muted">{stats.lastFailure}</p>}
    </>
  );
}

/** The cache: bytes of the artifacts held, and how many documents. */
export function CacheText({ stats }: { stats: ProxyStats }) {
  return (
    <>
      {formatSize(stats.artifactBytes)} in {stats.artifacts} {stats.artifacts === 1 ? 'artifact' : 'artifacts'}, {stats.documents}{' '}
      {stats.documents === 1 ? 'document' : 'documents'}
    </>
  );
}

/** The stale documents, with the lifetime they are past. */
export function StaleText({ stats }: { stats: ProxyStats }) {
  return (
    <>
      {stats.staleDocuments} of {stats.documents}
      {stats.state !== 'offline' && <span class="muted"> (lifetime {lifetimeText(stats.ttlMs)})</span>}
    </>
  );
}

/** A proxy's facts as a start-page card lists them. */
export function ProxyCardFacts({ stats }: { stats: ProxyStats }) {
  return (
    <dl class="facts">
      <dt>Upstream</dt>
      <dd>{stats.upstream}</dd>
      <dt>Health</dt>
      <dd>
        <UpstreamHealth stats={stats} />
      </dd>
      <dt>Cache</dt>
      <dd>
        <CacheText stats={stats} />
      </dd>
      <dt>Stale</dt>
      <dd>
        <StaleText stats={stats} />
      </dd>
    </dl>
  );
}
