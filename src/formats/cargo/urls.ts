/** The URLs of a Cargo repo as clients see them. */
export interface CargoUrls {
  /** `https://host/repo/index/` (trailing slash required by Cargo). */
  index: string;
  /** The same with the `sparse+` prefix, as written in `.cargo/config.toml` and Cargo.lock. */
  sparseIndex: string;
  /** The Web API root; Cargo appends `/api/v1/…`, so no trailing slash. */
  api: string;
  /** Download prefix without markers: Cargo appends `/{crate}/{version}/download`. */
  dl: string;
  /** The same index as a git repository (no `sparse+`): `https://host/repo/git/index`, Cargo's `registry+` source. */
  gitIndex: string;
}

/** Every URL of a repo from the server's external base URL. */
export function cargoUrls(base: string, repoName: string): CargoUrls {
  const root = `${base.replace(/\/+$/, '')}/${repoName}`;
  return {
    index: `${root}/index/`,
    sparseIndex: `sparse+${root}/index/`,
    api: root,
    dl: `${root}/api/v1/crates`,
    gitIndex: `${root}/git/index`,
  };
}

/** The registry's `config.json`. */
export function cargoRegistryConfig(urls: CargoUrls, authRequired: boolean): Record<string, unknown> {
  const config: Record<string, unknown> = { dl: urls.dl, api: urls.api };
  if (authRequired) config['auth-required'] = true;
  return config;
}

/** The bytes of `config.json`, as the sparse route sends them and the git index commits them. */
export function cargoConfigJson(urls: CargoUrls, authRequired: boolean): Buffer {
  return Buffer.from(JSON.stringify(cargoRegistryConfig(urls, authRequired)), 'utf8');
}
