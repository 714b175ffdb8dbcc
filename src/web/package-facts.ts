/** What a package page adds to a format's view from below the formats: owners, downloads, the README, dependents. */
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import type { PackageView } from '../registry/package-view.js';
import { dependentsOf, type ListedEntry } from '../registry/search/index.js';

export interface PackageFacts {
  owners: Array<{ login: string; name: string | null }>;
  /** Downloads per version, and their sum. */
  downloads: { total: number; byVersion: Map<string, number> };
  /** Sanitised HTML, or null when the version has no README here. */
  readmeHtml: string | null;
  dependents: ListedEntry[];
}

/**
 * Reads the shared facts of a package page. `holders` are the repos that may record them: the repo itself, or a
 * group's members (a group records nothing of its own); the first holder with owners or a README wins, as the group
 * serves the first member holding the package; downloads are added up over the holders. `scope` is the repos whose packages count as "here" for dependents.
 */
export async function packageFacts(
  registry: Registry,
  holders: readonly Repo[],
  view: PackageView,
  scope: readonly Repo[],
): Promise<PackageFacts> {
  const db = registry.db;
  const ids = holders.map((r) => r.id);
  const first = <T extends { repo_id: number }>(rows: T[]): T[] => {
    const holder = ids.find((id) => rows.some((r) => Number(r.repo_id) === id));
    return rows.filter((r) => Number(r.repo_id) === holder);
  };
  const format = holders[0]?.format;
  const [owners, downloads, readmes, dependents] = await Promise.all([
    db
      .selectFrom('package_owners')
      .innerJoin('users', 'users.id', 'package_owners.user_id')
      .select(['package_owners.repo_id', 'users.login', 'users.name'])
      .where('package_owners.repo_id', 'in', ids)
      .where('package_owners.package', '=', view.package)
      .orderBy('users.login')
      .execute(),
    db
      .selectFrom('package_downloads')
      .select(['repo_id', 'version', 'count'])
      .where('repo_id', 'in', ids)
      .where('package', '=', view.package)
      .execute(),
    db
      .selectFrom('package_readmes')
      .select(['repo_id', 'markdown'])
      .where('repo_id', 'in', ids)
      .where('package', '=', view.package)
      .where('version', '=', view.version)
      .execute(),
    dependentsOf(db, { name: view.name, repoIds: scope.filter((r) => r.format === format).map((r) => r.id), limit: 100 }),
  ]);
  const byVersion = new Map<string, number>();
  // Downloads through a group count for the member that sent them (registry/downloads.ts): add the holders up.
  for (const d of downloads) byVersion.set(d.version, (byVersion.get(d.version) ?? 0) + Number(d.count));
  const readme = first(readmes)[0];
  return {
    owners: first(owners).map(({ login, name }) => ({ login, name })),
    downloads: { total: [...byVersion.values()].reduce((a, b) => a + b, 0), byVersion },
    // markdown-it and sanitize-html load with the first README shown, not at every start (issue 14).
    readmeHtml: readme === undefined ? null : (await import('./markdown.js')).renderReadme(readme.markdown),
    dependents: dependents.filter((d) => !(ids.includes(d.repoId) && d.package === view.package)),
  };
}
