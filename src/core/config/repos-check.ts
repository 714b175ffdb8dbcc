/** Cross checks between [[repos]] entries, which the per-entry schema cannot see. */
import { suggest, type Path, type Problem } from './problems.js';
import type { RepoConfig } from './types.js';

/**
 * Duplicate names, kind-specific keys and group membership (existence, format, cycles):
 * mistakes the per-entry schema cannot see, which would otherwise only surface at request time.
 */
export function checkRepos(repos: Array<RepoConfig & { static_origin?: string; bazel_policy?: object }>): Problem[] {
  const problems: Problem[] = [];
  const byName = new Map<string, RepoConfig>();
  repos.forEach((r, i) => {
    const first = repos.findIndex((other) => other.name === r.name);
    if (first < i) problems.push({ path: ['repos', i, 'name'], message: `duplicate repository name "${r.name}" (also repos[${first}])` });
    else byName.set(r.name, r);
  });
  repos.forEach((r, i) => {
    const at = (...rest: Path): Path => ['repos', i, ...rest];
    for (const key of ['upstream', 'ttl', 'cooldown', 'offline'] as const) {
      if (r.kind !== 'proxy' && r[key] !== undefined) {
        problems.push({ path: at(key), message: `only proxy repositories take ${key} (this one is ${r.kind})` });
      }
    }
    for (const key of ['git_squash_after', 'git_batch'] as const) {
      if ((r as unknown as Record<string, unknown>)[key] !== undefined && r.format !== 'cargo')
        problems.push({ path: at(key), message: `only cargo repositories take ${key} (their git index; this one is ${r.format})` });
    }
    if (r.mirrors !== undefined && (r.format !== 'bazel' || r.kind !== 'hosted')) {
      problems.push({ path: at('mirrors'), message: `only hosted bazel repositories take mirrors (this one is ${r.format} ${r.kind})` });
    }
    if (r.bazel_policy !== undefined && (r.format !== 'bazel' || r.kind !== 'hosted')) {
      problems.push({
        path: at('bazel_policy'),
        message: `only hosted bazel repositories take bazel_policy (this one is ${r.format} ${r.kind}); publishes go to hosted ones`,
      });
    }
    if (r.static_origin !== undefined) {
      const shared = repos.findIndex((other) => other.static_origin === r.static_origin);
      if (r.kind !== 'hosted')
        problems.push({ path: at('static_origin'), message: `only hosted repositories take static_origin (this one is ${r.kind})` });
      else if (r.visibility === 'private')
        problems.push({
          path: at('static_origin'),
          message: 'a private repository cannot take static_origin: its index would be served to anyone from there',
        });
      else if (shared < i)
        problems.push({
          path: at('static_origin'),
          message: `repos[${shared}] writes to ${r.static_origin} too; each repository needs its own`,
        });
    }
    if (r.kind !== 'group') {
      if (r.members !== undefined)
        problems.push({ path: at('members'), message: `only group repositories take members (this one is ${r.kind})` });
      return;
    }
    if (!r.members?.length) {
      problems.push({ path: at('members'), message: 'missing (a group repository needs members, a list of repository names)' });
      return;
    }
    r.members.forEach((m, j) => {
      const member = byName.get(m);
      const guess = member ? undefined : suggest(m, [...byName.keys()]);
      if (m === r.name) problems.push({ path: at('members', j), message: `a group cannot contain itself` });
      else if (!member)
        problems.push({ path: at('members', j), message: `no repository named "${m}"${guess ? ` (did you mean "${guess}"?)` : ''}` });
      else if (member.format !== r.format) {
        problems.push({
          path: at('members', j),
          message: `"${m}" is a ${member.format} repository; members of a ${r.format} group must be ${r.format} repositories`,
        });
      }
    });
    const cycle = r.members.includes(r.name) ? null : groupCycle(r, byName);
    if (cycle) problems.push({ path: at('members'), message: `groups contain each other: ${cycle.join(' → ')}` });
  });
  return problems;
}

/** A chain of group memberships leading from `start` back to itself, if there is one. */
function groupCycle(start: RepoConfig, byName: Map<string, RepoConfig>): string[] | null {
  const visit = (r: RepoConfig, trail: string[]): string[] | null => {
    for (const m of r.kind === 'group' ? (r.members ?? []) : []) {
      if (m === start.name) return [...trail, m];
      const next = byName.get(m);
      const found = next && !trail.includes(m) ? visit(next, [...trail, m]) : null;
      if (found) return found;
    }
    return null;
  };
  return visit(start, [start.name]);
}
