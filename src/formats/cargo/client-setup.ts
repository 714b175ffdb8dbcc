import type { Repo } from '../../registry/repos.js';
import { CRATES_IO_INDEX } from './proxy.js';
import { versionKey } from './version-key.js';
import type { CargoUrls } from './urls.js';

/** The registry name the client snippets use for a repo: Cargo allows letters, digits, `-`, `_`. */
export function cargoRegistryName(repo: Repo): string {
  const name = repo.name.replace(/[^A-Za-z0-9_-]/g, '-');
  // `crates-io` is Cargo's own name for crates.io: `[source.crates-io] replace-with = "crates-io"` would replace it
  // with itself, so a repo of that name (a natural one for a proxy) gets another.
  return name === 'crates-io' ? 'larder-crates-io' : name;
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

/** Whether projects use the repo through crates.io source replacement (a crates.io proxy) rather than by registry name. */
function replacesCratesIo(repo: Repo): boolean {
  return repo.kind === 'proxy' && proxiesCratesIo(repo);
}

/** The `.cargo/config.toml` lines that make Cargo use a repo, for its kind (cargo.md §1, §12), after where they go. */
function registryLines(repo: Repo, urls: CargoUrls): string[] {
  const name = cargoRegistryName(repo);
  const where = '# ~/.cargo/config.toml (or .cargo/config.toml in your project)';
  if (repo.kind === 'hosted') return [where, ...alternativeRegistry(name, urls)];
  if (replacesCratesIo(repo)) {
    return [`${where}: unchanged projects fetch their crates.io dependencies through Larder`, ...sourceReplacement(name, urls)];
  }
  if (repo.kind === 'proxy') return [`${where}: a mirror of ${repo.upstream}`, ...alternativeRegistry(name, urls)];
  return [
    where,
    '# Your own crates are in this group: use it as an alternative registry, and depend on them with',
    `# registry = "${name}" in Cargo.toml (their crates.io dependencies resolve through the group too):`,
    ...alternativeRegistry(name, urls),
    '',
    '# Or, only when the group holds nothing but copies of crates.io (no crates of your own), build',
    '# unchanged projects through it with source replacement; Cargo takes the group for crates.io itself:',
    ...sourceReplacement(name, urls).map((l) => (l ? `# ${l}` : '#')),
  ];
}

/** What a private repo asks of Cargo beyond the registry lines (hosted repos say it with their usage hint). */
function privateRepoLines(repo: Repo, urls: CargoUrls): string[] {
  if (repo.visibility !== 'private' || repo.kind === 'hosted') return [];
  const name = cargoRegistryName(repo);
  // Cargo finds a replacement's token under the [registries] entry of the same index URL.
  return [
    '',
    `# ${repo.name} is private: Cargo needs [registries.${name}] with index = "${urls.sparseIndex}" and`,
    `# credential-provider = "cargo:token" for its token, then: cargo login --registry ${name}`,
  ];
}

/** The `.cargo/config.toml` lines that make Cargo use a repo, for its kind (cargo.md §1, §12). */
export function cargoClientSnippet(repo: Repo, urls: CargoUrls, caCertPath?: string): string {
  const name = cargoRegistryName(repo);
  const lines = registryLines(repo, urls);
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
  }
  lines.push(...privateRepoLines(repo, urls));
  return lines.join('\n');
}

/**
 * The same repo as a git index (cargo.md §14): Cargo's documented `index = "…"` form without `sparse+`, and the only
 * one Cargo before 1.68 knows. Shown commented out after the sparse lines, which stay the recommendation.
 */
export function cargoGitIndexLines(repo: Repo, urls: CargoUrls): string[] {
  // The first block only (a group's source-replacement alternative is not repeated).
  const all = registryLines(repo, { ...urls, sparseIndex: urls.gitIndex }).filter((l) => !l.startsWith('# ~/.cargo'));
  const lines = repo.kind === 'group' ? all.slice(0, all.indexOf('')) : all;
  return [
    '',
    `# Or as a git index (the form in Cargo's documentation; Cargo before 1.68 knows only this): ${urls.gitIndex}`,
    '# The sparse index above is faster and is the recommended one. The two are different sources to Cargo:',
    '# a Cargo.lock made with one does not match the other, so a project (and its team) uses one of them.',
    ...(repo.visibility === 'private'
      ? ['# git authenticates itself: store a Larder token as the password in a git credential helper (or ~/.netrc).']
      : []),
    ...lines.map((l) => (l.startsWith('#') ? l : l ? `# ${l}` : '#')),
  ];
}

/** The registry part a package page offers beside a dependency line: the configuration alone, plus what a private repo needs. */
export function cargoRegistrySetup(repo: Repo, urls: CargoUrls): string {
  const lines = [...registryLines(repo, urls), ...privateRepoLines(repo, urls)];
  if (repo.visibility === 'private' && repo.kind === 'hosted') {
    lines.push('', `# ${repo.name} is private: run  cargo login --registry ${cargoRegistryName(repo)}  with a token from ${urls.api}/me`);
  }
  return lines.join('\n');
}

/**
 * How a project depends on `crate` at `version` from a repo, as Cargo.toml and as `cargo add`: by registry name,
 * or for a crates.io proxy as a plain crates.io dependency (source replacement sends it through the repo).
 * Build metadata is dropped: Cargo ignores it in requirements and warns.
 */
export function cargoDependency(repo: Repo, crate: string, version: string): { toml: string; add: string } {
  const req = versionKey(version);
  if (replacesCratesIo(repo)) return { toml: `${crate} = "${req}"`, add: `cargo add ${crate}@${req}` };
  const name = cargoRegistryName(repo);
  return { toml: `${crate} = { version = "${req}", registry = "${name}" }`, add: `cargo add ${crate}@${req} --registry ${name}` };
}
