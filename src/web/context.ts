/** What every page handler reads: the registry, and which repos a group's pages and searches span. */
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';

export interface WebContext {
  registry: Registry;
  /**
   * The repos whose packages a repo shows: itself, or for a group its members (recursively), since packages are
   * recorded where they live and a group holds none of its own.
   */
  membersOf(repo: Repo): Repo[];
}

/** Builds the context once per server. */
export function webContext(registry: Registry): WebContext {
  const membersOf = (repo: Repo, seen = new Set<string>()): Repo[] => {
    if (!repo.members?.length) return [repo];
    seen.add(repo.name);
    return (repo.members ?? []).flatMap((name) => {
      const member = registry.repos.get(name);
      return member && !seen.has(name) ? membersOf(member, seen) : [];
    });
  };
  return { registry, membersOf: (repo) => membersOf(repo) };
}
