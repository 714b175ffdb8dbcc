/**
 * How a Julia user points Pkg at a Larder repo (protocols/julia.md §1, §6.1): `JULIA_PKG_SERVER` set to the
 * repo's URL (Pkg then installs every registry the server lists) and, for a private repo, the token in the
 * server's auth.toml. `larder serve` prints it; package pages reuse the same lines.
 */
import type { ClientSetup, ClientSetupOptions } from '../../registry/format.js';
import type { Repo } from '../../registry/repos.js';
import { JULIA_DEFAULT_UPSTREAM } from './proxy.js';

/** The Pkg server URL of a repo: what `JULIA_PKG_SERVER` is set to (no trailing slash; Pkg strips one anyway). */
export function juliaServerUrl(repo: Repo, baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${repo.name}`;
}

/** The shell line that makes Pkg use this server. */
export function juliaServerExport(url: string): string {
  return `export JULIA_PKG_SERVER=${url}`;
}

/**
 * Where Pkg reads the token for a server: `servers/<host>` under the first depot, the host with `: / < > " \ | ? *`
 * replaced by `_` (Pkg's get_server_dir).
 */
export function juliaAuthFile(url: string): string {
  return `~/.julia/servers/${new URL(url).host.replace(/[:/<>"\\|?*]/g, '_')}/auth.toml`;
}

/** The auth.toml line a private repo needs (Pkg sends it as a Bearer token to URLs under the server). */
export function juliaAuthLine(url: string): string {
  return `${juliaAuthFile(url)}:  access_token = "<token>"`;
}

/** The setup `larder serve` prints for one Julia repo. */
export function juliaClientSetup(repo: Repo, baseUrl: string, opts: ClientSetupOptions): ClientSetup {
  const url = juliaServerUrl(repo, baseUrl);
  const lines = [
    '# in the shell that runs julia (Pkg installs every registry this server lists):',
    juliaServerExport(url),
    ...(repo.kind === 'hosted'
      ? [
          `# create a registry:  larder julia create-registry MyRegistry --server ${url} --token <admin token>`,
          `# register a package: larder julia register path/to/Pkg --server ${url} --registry <uuid> --token <token>`,
        ]
      : repo.kind === 'proxy'
        ? [`# a read-only cache of ${repo.upstream ?? JULIA_DEFAULT_UPSTREAM}: registries, packages and artifacts verified by tree hash`]
        : [`# one server over ${(repo.members ?? []).join(', ')}; register packages in a hosted member`]),
  ];
  if (repo.visibility === 'private') lines.push(`# ${juliaAuthLine(url)}`);
  if (opts.caCertPath) lines.push(`# trust ${opts.caCertPath}: export JULIA_SSL_CA_ROOTS_PATH=${opts.caCertPath}`);
  return { url, snippet: lines.join('\n') };
}
