import type { Repo } from '../../registry/repos.js';
import { CRATES_IO_INDEX } from './proxy.js';
import type { CargoUrls } from './urls.js';

/** The registry name the client snippets use for a repo: Cargo allows letters, digits, `-`, `_`. */
export function cargoRegistryName(repo: Repo): string {
  return repo.name.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** Whether a proxy stands for crates.io (so crates.io source replacement is right for it). */
function proxiesCratesIo(repo: Repo): boolean {
  const upstream = (repo.upstream ?? CRATES_IO_INDEX).replace(/^sparse\+/, '').replace(/\/+$/, '');
  return upstream === CRATES_IO_INDEX.replace(/\/+$/, '');
}

/** `[registries.<name>]`: the repo as an alternative registry, named in Cargo.toml with `registry = "<name>"`. */
function alternativeRegistry(name: string, urls: CargoUrls): string[] {
  return [
    `[registries.${name}]`,
    `index = "${urls.sparseIndex}"`,
    // Needed for private repos and harmless for public ones: a token alone is not enough for Cargo.
    'credential-provider = "cargo:token"',
  ];
}

/** `[source.crates-io] replace-with`: every crates.io download of an unchanged project goes through the repo (cargo.md §1.2). */
function sourceReplacement(name: string, urls: CargoUrls): string[] {
  return ['[source.crates-io]', `replace-with = "${name}"`, '', `[source.${name}]`, `registry = "${urls.sparseIndex}"`];
}

/** The `.cargo/config.toml` lines that make Cargo use a repo, for its kind (cargo.md §1, §12). */
export function cargoClientSnippet(repo: Repo, urls: CargoUrls, caCertPath?: string): string {
  const name = cargoRegistryName(repo);
  const where = '# ~/.cargo/config.toml (or .cargo/config.toml in your project)';
  const lines: string[] = [];
  if (repo.kind === 'hosted') {
    lines.push(where, ...alternativeRegistry(name, urls));
  } else if (repo.kind === 'proxy' && proxiesCratesIo(repo)) {
    lines.push(`${where}: unchanged projects fetch their crates.io dependencies through Larder`, ...sourceReplacement(name, urls));
  } else if (repo.kind === 'proxy') {
    lines.push(`${where}: a mirror of ${repo.upstream}`, ...alternativeRegistry(name, urls));
  } else {
    lines.push(
      where,
      '# Your own crates are in this group: use it as an alternative registry, and depend on them with',
      `# registry = "${name}" in Cargo.toml (their crates.io dependencies resolve through the group too):`,
      ...alternativeRegistry(name, urls),
      '',
      '# Or, only when the group holds nothing but copies of crates.io (no crates of your own), build',
      '# unchanged projects through it with source replacement; Cargo takes the group for crates.io itself:',
      ...sourceReplacement(name, urls).map((l) => (l ? `# ${l}` : '#')),
    );
  }
  if (caCertPath) {
    // http.cainfo replaces the system CA bundle for every registry, crates.io included.
    lines.push(
      '',
      `# Trust Larder's local CA: add ${caCertPath} to the system store`,
      '# (Debian: copy to /usr/local/share/ca-certificates/larder.crt && update-ca-certificates),',
      `# or for Larder-only builds: export CARGO_HTTP_CAINFO=${caCertPath}`,
    );
  }
  if (repo.kind === 'hosted') {
    lines.push('', `# then: cargo login --registry ${name}    and in Cargo.toml:  foo = { version = "1", registry = "${name}" }`);
  } else if (repo.visibility === 'private') {
    // Cargo finds a replacement's token under the [registries] entry of the same index URL.
    lines.push(
      '',
      `# ${repo.name} is private: Cargo needs [registries.${name}] with index = "${urls.sparseIndex}" and`,
      `# credential-provider = "cargo:token" for its token, then: cargo login --registry ${name}`,
    );
  }
  return lines.join('\n');
}
