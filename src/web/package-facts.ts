/** What a package page adds to a format's view from below the formats: owners, downloads, the README, dependents. */
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import type { PackageView } from '../registry/package-view.js';
import { readReadme } from '../registry/readmes.js';
import { dependentsOf, type ListedEntry } from '../registry/search/index.js';
import { renderReadme } from './markdown.js';

export interface PackageFacts {
  owners: Array<{ login: string; name: string | null }>;
  /** Downloads per version, and their sum. */
  downloads: { total: number; byVersion: Map<string, number> };
  /** Sanitised HTML, or null when the version has no README here. */
  readmeHtml: string | null;
  dependents: ListedEntry[];
}

/**
 * Reads the shared facts of a package page; `scope` is the repos whose packages count as "here" for dependents.
 * `holders` are the repos whose downloads the page adds up: the repo itself, or a group's members, since a
 * download through a group counts for the member that sent it (registry/downloads.ts).
 */
export async function packageFacts(
  registry: Registry,
  repo: Repo,
  view: PackageView,
  scope: readonly Repo[],
  holders: readonly Repo[] = [repo],
): Promise<PackageFacts> {
  const db = registry.db;
  const [owners, downloads, readme, dependents] = await Promise.all([
    db
      .selectFrom('package_owners')
      .innerJoin('users', 'users.id', 'package_owners.user_id')
      .select(['users.login', 'users.name'])
      .where('package_owners.repo_id', '=', repo.id)
      .where('package_owners.package', '=', view.package)
      .orderBy('users.login')
      .execute(),
    db
      .selectFrom('package_downloads')
      .select(['version', 'count'])
      .where('repo_id', 'in', holders.length > 0 ? holders.map((r) => r.id) : [repo.id])
      .where('package', '=', view.package)
      .execute(),
    readReadme(db, { repoId: repo.id, package: view.package, version: view.version }),
    dependentsOf(db, { name: view.name, repoIds: scope.filter((r) => r.format === repo.format).map((r) => r.id), limit: 100 }),
  ]);
  const byVersion = new Map<string, number>();
  for (const d of downloads) byVersion.set(d.version, (byVersion.get(d.version) ?? 0) + Number(d.count));
  return {
    owners,
    downloads: { total: [...byVersion.values()].reduce((a, b) => a + b, 0), byVersion },
    readmeHtml: readme === null ? null : renderReadme(readme, `${repo.id}\0${view.package}\0${view.version}`),
    dependents: dependents.filter((d) => !(d.repoId === repo.id && d.package === view.package)),
  };
}
