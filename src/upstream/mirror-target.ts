/** Which proxy `larder mirror REPO` fills, refused with a clear message when REPO is not one. */
import { fail } from '../core/errors.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import type { MirrorTarget } from './mirror.js';
import { ProxySource } from './proxy-source.js';
import { upstreamFetch } from './upstream-fetch.js';

/**
 * The proxy repo `name` as a mirror target. An `offline` proxy is mirrored all the same: offline
 * says what *clients* may make the server fetch, and `larder mirror` is how an offline proxy is filled.
 */
export function mirrorTarget(registry: Registry, name: string): MirrorTarget & { repo: Repo; offline: boolean } {
  const repo = registry.repos.get(name);
  if (!repo) {
    const names = [...registry.repos.values()].filter((r) => r.kind === 'proxy').map((r) => r.name);
    const hint = names.length > 0 ? `; proxy repositories: ${names.join(', ')}` : '; larder.toml defines no proxy repository';
    fail('REPO_NOT_FOUND', `no repository named "${name}"${hint}`);
  }
  if (repo.kind !== 'proxy') {
    fail(
      'CONFIG_INVALID',
      `repository "${name}" is a ${repo.kind} ${repo.format} repository; larder mirror fills proxy repositories (kind = "proxy" in larder.toml)`,
    );
  }
  const proxy = registry.formats.get(repo.format)?.parts.proxy;
  if (!proxy || !(registry.sources.get(name) instanceof ProxySource)) {
    fail('NOT_SUPPORTED', `repository "${name}": ${repo.format} proxy repositories are not available yet`);
  }
  // A source of its own, not the served one: online even when the repo is configured offline.
  const source = new ProxySource(
    registry,
    { ...repo, offline: false },
    registry.formats.get(repo.format)!.parts,
    upstreamFetch(registry.outbound),
  );
  return { context: source.context, proxy, repo, offline: repo.offline ?? false };
}
