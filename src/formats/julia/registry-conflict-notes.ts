/**
 * Noting registry conflicts while `/registries` is served: the check itself (registry-conflicts.ts, which reads
 * tarballs) is loaded when a listing first needs it, not by every start (cold start, issue 14).
 */
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Source, SourceDoc } from '../../registry/source.js';

/** Per server: the `/registries` body each repo was last checked for, and the conflicts already reported. */
const state = new WeakMap<Registry, { checked: Map<string, string>; reported: Set<string> }>();

/**
 * Checks, in the background and once per distinct `/registries` body, the registries a repo lists
 * together (a check another process made is read back); each conflict is logged once per process
 * (`registry.log.warn`) and counted. Never fails a request.
 */
export function noteRegistryConflicts(registry: Registry, repo: Repo, source: Source, doc: SourceDoc): void {
  let s = state.get(registry);
  if (!s) state.set(registry, (s = { checked: new Map(), reported: new Set() }));
  const { checked, reported } = s;
  if (checked.get(repo.name) === doc.etag) return;
  checked.set(repo.name, doc.etag);
  void import('./registry-conflicts.js')
    .then(({ registryConflictsOf }) => registryConflictsOf(registry, repo, source, doc))
    .then(
      (conflicts) => {
        for (const c of conflicts) {
          const id = `${repo.name} ${c.uuid} ${c.registries.join(' ')}`;
          if (reported.has(id)) continue;
          reported.add(id);
          registry.metrics.registryConflicts.inc({ repo: repo.name });
          registry.log.warn(
            { repo: repo.name, package: c.name, uuid: c.uuid, registries: c.registries },
            `${repo.name}: package ${c.name} (${c.uuid}) is in registries ${c.registries[0]} and ${c.registries[1]}, which do not list each other in its trusted_registries; Pkg warns about it (dependency confusion)`,
          );
        }
      },
      (err: unknown) => {
        // A registry that cannot be read now is checked again with the next listing.
        checked.delete(repo.name);
        registry.log.warn(
          { repo: repo.name, err: (err as Error).message },
          `${repo.name}: the registries could not be checked for shared packages`,
        );
      },
    );
}
