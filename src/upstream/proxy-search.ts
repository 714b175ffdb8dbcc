/**
 * Proxies index what they hold (issue 12): when a proxy stores a package document fetched from its upstream
 * (or a synced git index changes a file), the format's `ProxyParts.searchEntry` says what search records, and
 * the entry is written in the same transaction as the document; when the upstream no longer has the document,
 * the entry its last copy made is removed. Search and the web UI then find cached and mirrored packages.
 */
import type { Dialect, Trx } from '../storage/db.js';
import type { Repo } from '../registry/repos.js';
import { removeSearchEntry, upsertSearchEntry } from '../registry/search/index.js';
import type { ProxyParts, ProxySearchEntry } from '../registry/source-parts.js';

/** A proxy repo whose format can say what search records for its documents. */
export interface ProxySearchTarget {
  repo: Repo;
  searchEntry: NonNullable<ProxyParts['searchEntry']>;
}

/** The target for a proxy repo, or null when its format records nothing for proxies. */
export function proxySearchTarget(repo: Repo, proxy: ProxyParts): ProxySearchTarget | null {
  const searchEntry = proxy.searchEntry?.bind(proxy);
  return searchEntry ? { repo, searchEntry } : null;
}

/**
 * Brings the search entry of the document at `path` in step with its new body (null: the upstream has it no
 * more), given the body held before (null: none). Call it inside the transaction that writes the document.
 */
export async function indexProxyDoc(
  trx: Trx,
  dialect: Dialect,
  target: ProxySearchTarget,
  path: string,
  body: Uint8Array | null,
  previous: Uint8Array | null,
  now: number,
): Promise<void> {
  const entry = body ? entryOf(target, path, body) : null;
  const before = previous ? entryOf(target, path, previous) : null;
  if (entry) await upsertSearchEntry(trx, dialect, { ...entry, repoId: target.repo.id, format: target.repo.format, updatedAt: now });
  // Gone upstream, or nothing installable left: the package is no longer found through this proxy.
  if (before && before.package !== entry?.package)
    await removeSearchEntry(trx, dialect, { repoId: target.repo.id, package: before.package });
}

/** What the format says about one body; a body it cannot read records nothing (the document is still served). */
function entryOf(target: ProxySearchTarget, path: string, body: Uint8Array): ProxySearchEntry | null {
  try {
    return target.searchEntry(path, Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  } catch {
    return null;
  }
}
