/**
 * Proxies index what they hold (issue 12): when a proxy stores a package document fetched from its upstream
 * (or a synced git index changes a file), the format's `ProxyParts.searchEntry` says what search records, and
 * the entry is written in the same transaction as the document; when the upstream no longer has the document,
 * the entry its last copy made is removed. Search and the web UI then find cached and mirrored packages.
 */
import type { Db, Dialect, Trx } from '../storage/db.js';
import type { Repo } from '../registry/repos.js';
import { removeSearchEntry, upsertSearchEntry } from '../registry/search/index.js';
import { inTransaction } from '../registry/tx.js';
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

/**
 * Indexes a held document the upstream just confirmed unchanged (304) when search has no entry for its package:
 * copies held from before proxies indexed what they hold. One indexed lookup when the entry is there.
 */
export async function indexProxyDocIfMissing(
  store: { db: Db; dialect: Dialect },
  target: ProxySearchTarget,
  path: string,
  body: Uint8Array,
  now: number,
): Promise<void> {
  const entry = entryOf(target, path, body);
  if (!entry) return;
  const exists = (db: Db | Trx) =>
    db
      .selectFrom('search_entries')
      .select('id')
      .where('repo_id', '=', target.repo.id)
      .where('package', '=', entry.package)
      .executeTakeFirst();
  if (await exists(store.db)) return;
  await inTransaction(store, async ({ trx }) => {
    // Another request or node may have written it meanwhile, with a newer copy: that one stands.
    if (!(await exists(trx)))
      await upsertSearchEntry(trx, store.dialect, { ...entry, repoId: target.repo.id, format: target.repo.format, updatedAt: now });
  });
}

/**
 * What the format says about one body; a body it cannot read records nothing (the document is still served), and
 * neither does a package with nothing installable left (`latestVersion` null: every version yanked), as for hosted.
 */
function entryOf(target: ProxySearchTarget, path: string, body: Uint8Array): ProxySearchEntry | null {
  try {
    const entry = target.searchEntry(path, Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    return entry && entry.latestVersion !== null ? entry : null;
  } catch {
    return null;
  }
}
