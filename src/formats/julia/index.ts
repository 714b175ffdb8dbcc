import type { FormatPlugin } from '../../http/format-plugin.js';
import { juliaParts } from './parts.js';
import { juliaMigrations } from './migrations.js';
import { findJuliaPackageRef } from './owners.js';
import { juliaRoutes } from './routes.js';
import { verifyJuliaRepo } from './verify.js';

/** Julia: hosted registries, proxies of a Pkg server, and groups of both, served by the Pkg server protocol. */
export const juliaFormat: FormatPlugin = {
  format: 'julia',
  kinds: ['hosted', 'proxy', 'group'],
  migrations: juliaMigrations,
  parts: juliaParts,
  routes: juliaRoutes,
  verify: verifyJuliaRepo,
  packageRef: findJuliaPackageRef,
  clientSetup(repo, baseUrl, opts) {
    const url = `${baseUrl.replace(/\/+$/, '')}/${repo.name}`;
    const lines = [
      '# in the shell that runs julia (Pkg installs every registry this server lists):',
      `export JULIA_PKG_SERVER=${url}`,
      ...(repo.kind === 'hosted'
        ? [
            `# create a registry:  larder julia create-registry MyRegistry --server ${url} --token <admin token>`,
            `# register a package: larder julia register path/to/Pkg --server ${url} --registry <uuid> --token <token>`,
          ]
        : repo.kind === 'proxy'
          ? [
              `# a read-only cache of ${repo.upstream ?? 'https://pkg.julialang.org'}: registries, packages and artifacts verified by tree hash`,
            ]
          : [`# one server over ${(repo.members ?? []).join(', ')}; register packages in a hosted member`]),
    ];
    if (repo.visibility === 'private')
      lines.push(`# ~/.julia/servers/${new URL(url).host.replace(/[:/<>"\\|?*]/g, '_')}/auth.toml:  access_token = "<token>"`);
    if (opts.caCertPath) lines.push(`# trust ${opts.caCertPath}: export JULIA_SSL_CA_ROOTS_PATH=${opts.caCertPath}`);
    return { url, snippet: lines.join('\n') };
  },
};
