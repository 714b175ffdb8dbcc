import type { Repo } from '../../registry/repos.js';

/** The registry URL Bazel is given (`--registry`), from the server's base URL. */
export function bazelRegistryUrl(base: string, repo: Repo): string {
  return `${base.replace(/\/+$/, '')}/${repo.name}`;
}

/** The `.bazelrc` lines that make Bazel use a repo (before the BCR, which a --registry replaces). */
export function bazelClientSnippet(repo: Repo, url: string, caCertPath?: string): string {
  const lines = [
    '# .bazelrc (earlier registries take precedence; any --registry replaces the default BCR)',
    `common --registry=${url}`,
    'common --registry=https://bcr.bazel.build',
  ];
  lines.push(`# publish: larder bazel publish --registry ${url} --token <token> --archive src.tar.gz --strip-prefix <dir>`);
  if (repo.visibility === 'private') lines.push(`# ~/.netrc: machine ${new URL(url).hostname} login <you> password <token>`);
  if (caCertPath) lines.push(`# trust ${caCertPath}: add it to the JDK truststore Bazel uses, or the system store`);
  return lines.join('\n');
}
