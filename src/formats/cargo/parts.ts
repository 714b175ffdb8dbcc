/** Cargo's parts of the shared sources: index paths name crates, artifacts are `{crate}/{version}`. */
import type { SourceParts } from '../../registry/source-parts.js';
import { crateNameFromIndexPath, indexPath, normCrateName } from './names.js';
import { cargoProxy } from './proxy.js';
import { cargoConfigJson, cargoUrls } from './urls.js';

/** The name of the git history every Cargo repo serves at `git/index` (cargo.md §14). */
export const GIT_INDEX_HISTORY = 'index';
/** The branch HEAD names; Cargo fetches `+HEAD:refs/remotes/origin/HEAD`, whatever it is called. */
export const GIT_INDEX_BRANCH = 'main';

export { crateKey } from './names.js';

/** What Cargo supplies to hosted, proxy and group sources. */
export const cargoParts: SourceParts = {
  packageOfDoc: (path) => crateNameFromIndexPath(path)?.toLowerCase() ?? null,
  packageOfArtifact: (key) => key.slice(0, key.indexOf('/')).toLowerCase() || null,
  // Downloads count under the crate's owners key (`Serde-JSON` and `serde_json` are one crate).
  downloadOf: (key) => {
    const slash = key.indexOf('/');
    return slash > 0 ? { package: normCrateName(key.slice(0, slash)), version: key.slice(slash + 1) } : null;
  },
  packageDoc: (crate) => indexPath(crate),
  hosted: {
    // The service (publishes, archives, search) is loaded on first use, not by every start.
    async artifact(registry, repo, key) {
      const slash = key.indexOf('/');
      const { CargoService } = await import('./service.js');
      const file = await new CargoService(registry, repo).crateFile(key.slice(0, slash), key.slice(slash + 1));
      return file ? { sha256: file.cksum, size: Number(file.size) } : null;
    },
    // crates.io's rule: names equal ignoring case and `-`/`_` are the same crate (findCrateRef compares normalised names).
    hasPackage: async (registry, repo, crate) =>
      (await new (await import('./service.js')).CargoService(registry, repo).findCrateRef(crate)) !== null,
  },
  proxy: cargoProxy,
  // The git index: every index file at the path the sparse index serves it at, plus config.json at the root.
  gitView: {
    history: GIT_INDEX_HISTORY,
    branch: GIT_INDEX_BRANCH,
    includes: (path) => crateNameFromIndexPath(path) !== null,
    rootFiles: (repo, base) => [{ path: 'config.json', data: cargoConfigJson(cargoUrls(base, repo.name), repo.visibility === 'private') }],
    // `api` is `{base}/{repo}`: the base a recorded config.json was built for.
    recordedBase(repo, files) {
      const config = files.get('config.json');
      try {
        const api = config ? (JSON.parse(Buffer.from(config.data).toString('utf8')) as { api?: unknown }).api : undefined;
        const suffix = `/${repo.name}`;
        return typeof api === 'string' && api.endsWith(suffix) ? api.slice(0, -suffix.length) : null;
      } catch {
        return null;
      }
    },
  },
};
