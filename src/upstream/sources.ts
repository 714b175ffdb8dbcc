/** The one place that picks a source implementation by repository kind. */
import { fail } from '../core/errors.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import { HostedSource, type Source } from '../registry/source.js';
import { GroupSource } from './group-source.js';
import { ProxySource } from './proxy-source.js';
import type { UpstreamFetch } from './upstream-fetch.js';
import { markGitViewChanged } from '../registry/git-history/view.js';

/** Builds every repo's source (members before the groups over them). */
export function openSources(registry: Registry, fetcher: UpstreamFetch): Map<string, Source> {
  const sources = new Map<string, Source>();
  const build = (repo: Repo): Source => {
    const existing = sources.get(repo.name);
    if (existing) return existing;
    const format = registry.formats.get(repo.format);
    if (!format) fail('CONFIG_INVALID', `repository "${repo.name}": format ${repo.format} is not available`);
    if (!format.kinds.includes(repo.kind)) {
      fail(
        'CONFIG_INVALID',
        `repository "${repo.name}": ${repo.format} ${repo.kind} repositories are not available yet; use kind = "${format.kinds.join('" or "')}"`,
      );
    }
    let source: Source;
    if (repo.kind === 'proxy') source = new ProxySource(registry, repo, format.parts, fetcher);
    else if (repo.kind === 'group') {
      const members = (repo.members ?? []).map((name) => {
        const member = registry.repos.get(name);
        if (!member) fail('CONFIG_INVALID', `group "${repo.name}": no repository named "${name}"`);
        return build(member);
      });
      source = new GroupSource(registry, repo, members, format.parts);
    } else source = new HostedSource(registry, repo, format.parts);
    sources.set(repo.name, source);
    return source;
  };
  for (const repo of registry.repos.values()) if (registry.formats.has(repo.format)) build(repo);
  // Repos with a git view of their documents: each write marks the paths the view commits next, in its transaction.
  const views = new Map<number, (path: string) => boolean>();
  for (const repo of registry.repos.values()) {
    const view = registry.formats.get(repo.format)?.parts.gitView;
    if (view && repo.kind !== 'group') views.set(repo.id, view.includes);
  }
  if (views.size > 0)
    registry.docs.onWrite(async (uow, repoId, paths) => {
      const includes = views.get(repoId);
      const marked = includes ? paths.filter(includes) : [];
      if (marked.length > 0) await markGitViewChanged(uow.trx, repoId, marked);
    });
  return sources;
}
