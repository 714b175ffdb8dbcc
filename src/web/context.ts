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
  /** Repo names by database id, for labelling search hits and lists. */
  repoNames: ReadonlyMap<number, string>;
}

/** Builds the context once per server: repos are fixed while it runs, so memberships and names are worked out here. */
export function webContext(registry: Registry): WebContext {
  const expand = (repo: Repo, seen = new Set<string>()): Repo[] => {
    if (!repo.members?.length) return [repo];
    seen.add(repo.name);
    return repo.members.flatMap((name) => {
      const member = registry.repos.get(name);
      return member && !seen.has(name) ? expand(member, seen) : [];
    });
  };
  const members = new Map([...registry.repos.values()].map((r) => [r.name, expand(r)]));
  return {
    registry,
    membersOf: (repo) => members.get(repo.name) ?? expand(repo),
    repoNames: new Map([...registry.repos.values()].map((r) => [r.id, r.name])),
  };
}
