/** Cargo's parts of the shared sources: index paths name crates, artifacts are `{crate}/{version}`. */
import type { SourceParts } from '../../registry/source-parts.js';
import { crateNameFromIndexPath, indexPath, normCrateName } from './names.js';
import { cargoProxy } from './proxy.js';
import { CargoService } from './service.js';

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
    async artifact(registry, repo, key) {
      const slash = key.indexOf('/');
      const file = await new CargoService(registry, repo).crateFile(key.slice(0, slash), key.slice(slash + 1));
      return file ? { sha256: file.cksum, size: Number(file.size) } : null;
    },
    // crates.io's rule: names equal ignoring case and `-`/`_` are the same crate (findCrateRef compares normalised names).
    hasPackage: async (registry, repo, crate) => (await new CargoService(registry, repo).findCrateRef(crate)) !== null,
  },
  proxy: cargoProxy,
};
