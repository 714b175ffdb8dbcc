/**
 * What `larder serve` prints for a MoonBit repo (protocols/moonbit.md §1, §14.1): `MOONCAKES_REGISTRY`
 * without a trailing slash first, then the split `$MOON_HOME/config.json` alternative, how to publish,
 * and what a private repo needs.
 */
import type { ClientSetup, ClientSetupOptions } from '../../registry/format.js';
import type { Repo } from '../../registry/repos.js';
import { MOONCAKES } from './proxy.js';

/** How moon is pointed at a repo: the registry base (no trailing slash), its environment line, and the split config.json. */
export interface MoonRegistry {
  url: string;
  /** `export MOONCAKES_REGISTRY=<url>`. */
  env: string;
  /** `$MOON_HOME/config.json` in the split form of §14.1 (api and download both the repo base). */
  config: { api: string; index: string; download: string; symbols: string };
}

/** Where moon finds `repo` served at `baseUrl`: shared by `larder serve` and the package page's snippets. */
export function moonRegistry(repo: Repo, baseUrl: string): MoonRegistry {
  // No trailing slash: moon appends `/git/index` and `/symbols.zip` by concatenation (trap 9).
  const url = `${baseUrl.replace(/\/+$/, '')}/${repo.name}`;
  return {
    url,
    env: `export MOONCAKES_REGISTRY=${url}`,
    config: { api: url, index: `${url}/git/index`, download: url, symbols: `${url}/symbols.zip` },
  };
}

/** What a private repo needs, in words (git asks with credentials; moon sends none for zips). */
export const PRIVATE_REPO_NOTE = [
  'private: git asks for the index with credentials (a credential helper, or https://<user>:<token>@host/... in the URL);',
  'moon sends none for zip downloads, so put the token in the URL too or protect the repo at the network level',
];

/** The printed setup of one MoonBit repo; `url` is the registry base moon is given. */
export function moonbitClientSetup(repo: Repo, baseUrl: string, opts: ClientSetupOptions): ClientSetup {
  const { url, env, config } = moonRegistry(repo, baseUrl);
  const lines = [
    '# in the shell that runs moon:',
    env,
    '# or in $MOON_HOME/config.json (~/.moon/config.json); while that file exists moon ignores MOONCAKES_REGISTRY:',
    `#   ${JSON.stringify(config)}`,
    ...(repo.kind === 'hosted'
      ? [`# publish a module (the directory holding moon.mod.json): larder moonbit publish DIR --registry ${url} --token <token>`]
      : repo.kind === 'proxy'
        ? [`# a read-only cache of ${repo.upstream ?? MOONCAKES}: its git index re-served, zips verified against the index checksums`]
        : [`# one index over ${(repo.members ?? []).join(', ')} (hosted first); publish to a hosted member`]),
  ];
  if (repo.visibility === 'private') lines.push(...PRIVATE_REPO_NOTE.map((l) => `# ${l}`));
  if (opts.caCertPath)
    lines.push(`# trust the local CA (git and moon): export GIT_SSL_CAINFO=${opts.caCertPath} SSL_CERT_FILE=${opts.caCertPath}`);
  return { url, snippet: lines.join('\n') };
}
