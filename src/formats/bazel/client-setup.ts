import type { Repo } from '../../registry/repos.js';
import { mirrorBaseUrl } from './mirror.js';
import { policyOf } from './policy.js';
import { BCR_URL } from './proxy.js';

/** The registry URL Bazel is given (`--registry`), from the server's base URL. */
export function bazelRegistryUrl(base: string, repo: Repo): string {
  return `${base.replace(/\/+$/, '')}/${repo.name}`;
}

/** The `--registry` lines of a `.bazelrc` that uses a repo, and why they are what they are. */
export interface BazelRegistrySetup {
  /** `common --registry=…` lines, in the order Bazel must try them. */
  lines: string[];
  /** One sentence on the order and on credentials, for people (comments in the repo snippet, a note on package pages). */
  notes: string[];
}

/**
 * What `.bazelrc` needs to resolve from a repo: a hosted repo before the BCR (any --registry replaces the
 * default, and its modules depend on BCR ones); a proxy or a group alone, since it already stands in for its
 * upstream. The repo page and the package pages both say this, so it is written once here.
 */
export function bazelRegistrySetup(repo: Repo, url: string): BazelRegistrySetup {
  const lines = [`common --registry=${url}`];
  const notes: string[] = [];
  if (repo.kind === 'hosted') {
    lines.push(`common --registry=${BCR_URL}`);
    notes.push('Bazel tries registries in order, and any --registry replaces the default BCR, so the BCR is listed again after this one.');
  } else {
    const what = repo.kind === 'proxy' ? `a cache of ${repo.upstream || BCR_URL}, used instead of it` : 'the only registry';
    notes.push(`${repo.name} is ${what}: list it alone, and source archives come through Larder, checked against source.json.`);
  }
  if (repo.visibility === 'private') {
    notes.push(`Bazel sends credentials from ~/.netrc: machine ${new URL(url).hostname} login <you> password <token>`);
  }
  return { lines, notes };
}

/**
 * The `.bazelrc` lines that make Bazel use a repo: a hosted repo before the BCR (a --registry replaces
 * the default); a proxy or a group as the only registry, its archives through its mirror.
 */
export function bazelClientSnippet(repo: Repo, url: string, caCertPath?: string): string {
  const { lines: registries } = bazelRegistrySetup(repo, url);
  const lines = ['# .bazelrc (earlier registries take precedence; any --registry replaces the default BCR)', ...registries];
  if (repo.kind === 'hosted') {
    lines.push(`# publish: larder bazel publish --registry ${url} --token <token> --archive src.tar.gz --strip-prefix <dir>`);
    if (policyOf(repo).requirePresubmit)
      lines.push('#   it sends .bcr/presubmit.yml (the CI matrix this registry requires, as the BCR does), or --presubmit FILE');
  } else {
    const what = repo.kind === 'proxy' ? `a cache of ${repo.upstream ?? BCR_URL}, used instead of it` : 'the only registry';
    lines.push(`# ${repo.name} is ${what}; its bazel_registry.json lists ${mirrorBaseUrl(url)} first, so source archives come`);
    lines.push('# through Larder, checked against source.json. To mirror the archives of other registries too, add:');
    lines.push(`# common --module_mirrors=${mirrorBaseUrl(url)}   (Bazel >= 7.7.0 / 8.4.0)`);
  }
  if (repo.visibility === 'private') lines.push(`# ~/.netrc: machine ${new URL(url).hostname} login <you> password <token>`);
  if (caCertPath) lines.push(`# trust ${caCertPath}: add it to the JDK truststore Bazel uses, or the system store`);
  return lines.join('\n');
}
