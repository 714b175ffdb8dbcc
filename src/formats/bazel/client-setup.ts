import type { Repo } from '../../registry/repos.js';
import { mirrorBaseUrl } from './mirror.js';

/** The registry URL Bazel is given (`--registry`), from the server's base URL. */
export function bazelRegistryUrl(base: string, repo: Repo): string {
  return `${base.replace(/\/+$/, '')}/${repo.name}`;
}

/**
 * The `.bazelrc` lines that make Bazel use a repo: a hosted repo before the BCR (a --registry replaces
 * the default); a proxy or a group as the only registry, its archives through its mirror.
 */
export function bazelClientSnippet(repo: Repo, url: string, caCertPath?: string): string {
  const lines = ['# .bazelrc (earlier registries take precedence; any --registry replaces the default BCR)', `common --registry=${url}`];
  if (repo.kind === 'hosted') {
    lines.push('common --registry=https://bcr.bazel.build');
    lines.push(`# publish: larder bazel publish --registry ${url} --token <token> --archive src.tar.gz --strip-prefix <dir>`);
  } else {
    const what =
      repo.kind === 'proxy' ? `a cache of ${repo.upstream ?? 'https://bcr.bazel.build'}, used instead of it` : 'the only registry';
    lines.push(`# ${repo.name} is ${what}; its bazel_registry.json lists ${mirrorBaseUrl(url)} first, so source archives come`);
    lines.push('# through Larder, checked against source.json. To mirror the archives of other registries too, add:');
    lines.push(`# common --module_mirrors=${mirrorBaseUrl(url)}   (Bazel >= 7.7.0 / 8.4.0)`);
  }
  if (repo.visibility === 'private') lines.push(`# ~/.netrc: machine ${new URL(url).hostname} login <you> password <token>`);
  if (caCertPath) lines.push(`# trust ${caCertPath}: add it to the JDK truststore Bazel uses, or the system store`);
  return lines.join('\n');
}
