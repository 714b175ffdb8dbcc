/** The packages a user owns (package_owners), with what search knows of each, for "my packages". */
import type { Db } from '../storage/db.js';

export interface OwnedPackage {
  repoId: number;
  /** The format's canonical id (what package pages are addressed by). */
  package: string;
  /** The display name and latest version from search_entries; null when search has no entry (every version yanked). */
  name: string | null;
  latestVersion: string | null;
  format: string | null;
  /** When the user became an owner. */
  since: number;
}

/** The packages `userId` owns among `repoIds` (the repos the caller may read), by repo then name. */
export async function packagesOwnedBy(db: Db, userId: number, repoIds: readonly number[]): Promise<OwnedPackage[]> {
  if (repoIds.length === 0) return [];
  const rows = await db
    .selectFrom('package_owners as o')
    .leftJoin('search_entries as s', (j) => j.onRef('s.repo_id', '=', 'o.repo_id').onRef('s.package', '=', 'o.package'))
    .select(['o.repo_id', 'o.package', 'o.created_at', 's.name', 's.latest_version', 's.format'])
    .where('o.user_id', '=', userId)
    .where('o.repo_id', 'in', [...repoIds])
    .orderBy('o.repo_id')
    .orderBy('o.package')
    .execute();
  return rows.map((r) => ({
    repoId: Number(r.repo_id),
    package: r.package,
    name: r.name,
    latestVersion: r.latest_version,
    format: r.format,
    since: Number(r.created_at),
  }));
}
