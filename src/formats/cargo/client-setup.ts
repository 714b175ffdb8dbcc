import type { Repo } from '../../registry/repos.js';
import type { CargoUrls } from './urls.js';

/** The registry name the client snippets use for a repo: Cargo allows letters, digits, `-`, `_`. */
export function cargoRegistryName(repo: Repo): string {
  return repo.name.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** The `.cargo/config.toml` lines that make Cargo use a repo. */
export function cargoClientSnippet(repo: Repo, urls: CargoUrls, caCertPath?: string): string {
  const name = cargoRegistryName(repo);
  const lines = [
    '# ~/.cargo/config.toml (or .cargo/config.toml in your project)',
    `[registries.${name}]`,
    `index = "${urls.sparseIndex}"`,
    // Needed for private repos and harmless for public ones: a token alone is not enough for Cargo.
    'credential-provider = "cargo:token"',
  ];
  if (caCertPath) {
    // http.cainfo replaces the system CA bundle for every registry, crates.io included.
    lines.push(
      '',
      `# Trust Larder's local CA: add ${caCertPath} to the system store`,
      '# (Debian: copy to /usr/local/share/ca-certificates/larder.crt && update-ca-certificates),',
      `# or for Larder-only builds: export CARGO_HTTP_CAINFO=${caCertPath}`,
    );
  }
  lines.push('', `# then: cargo login --registry ${name}    and in Cargo.toml:  foo = { version = "1", registry = "${name}" }`);
  return lines.join('\n');
}
