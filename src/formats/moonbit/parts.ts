/**
 * MoonBit's parts of the shared sources. Documents are the index's files by git path
 * (`user/<module>.index` belongs to its module; `yanked.json` and `symbols.zip` to the repo);
 * artifacts are zips by `<module>/<version>` and prebuilt Wasm files by `assets/<user>/<name>@<version>/…` (§7).
 */
import type { SourceParts } from '../../registry/source-parts.js';
import { indexPath, moduleOfIndexPath, parseArchiveKey, parseModuleName } from './names.js';
import { moduleExists } from './owners.js';
import { moonbitProxy } from './proxy.js';
import { moonbitDb } from './store.js';

/** The prefix of a prebuilt Wasm asset's key: the URL path below the repo (`assets/alice/fmt@1.0.0/fmt.wasm`). */
export const ASSET_PREFIX = 'assets/';

/**
 * The module and version an asset key names: `assets/<user>/<name…>@<version>/[<pkgpath>/]<stem>.wasm[.sha256]`,
 * split at the first component holding `@` (a SemVer version holds none); null for any other key.
 */
export function parseAssetKey(key: string): { module: string; version: string } | null {
  if (!key.startsWith(ASSET_PREFIX) || !/\.wasm(\.sha256)?$/.test(key)) return null;
  const parts = key.slice(ASSET_PREFIX.length).split('/');
  const at = parts.findIndex((c) => c.includes('@'));
  // user, name@version, and the file: at least three components.
  if (at < 1 || at > parts.length - 2) return null;
  const seg = parts[at]!;
  const cut = seg.lastIndexOf('@');
  const module = [...parts.slice(0, at), seg.slice(0, cut)].join('/');
  const version = seg.slice(cut + 1);
  if (!version || !parseModuleName(module) || parts.slice(at + 1).some((c) => c === '' || c === '.' || c === '..')) return null;
  return { module, version };
}

/** What MoonBit supplies to hosted, proxy and group sources. */
export const moonbitParts: SourceParts = {
  packageOfDoc: moduleOfIndexPath,
  packageOfArtifact: (key) => (key.startsWith(ASSET_PREFIX) ? parseAssetKey(key) : parseArchiveKey(key))?.module ?? null,
  // A module version's zip is its download; prebuilt Wasm assets are build inputs, not counted.
  downloadOf: (key) => {
    const k = key.startsWith(ASSET_PREFIX) ? null : parseArchiveKey(key);
    return k ? { package: k.module, version: k.version } : null;
  },
  packageDoc: indexPath,
  hosted: {
    async artifact(registry, repo, key) {
      // Hosted repos hold no prebuilt Wasm: moon then says "Prebuilt wasm asset does not exist".
      if (key.startsWith(ASSET_PREFIX)) return null;
      const k = parseArchiveKey(key);
      if (!k) return null;
      const row = await moonbitDb(registry)
        .selectFrom('moonbit_versions')
        .select(['checksum', 'size'])
        .where('repo_id', '=', repo.id)
        .where('module', '=', k.module)
        .where('version', '=', k.version)
        .executeTakeFirst();
      // A version imported without its zip has no size: nothing to serve.
      return row && row.size !== null ? { sha256: row.checksum, size: Number(row.size) } : null;
    },
    // Published or imported (an index file without rows counts: its name is taken here).
    hasPackage: (registry, repo, module) => moduleExists(registry.db, repo, module),
  },
  proxy: moonbitProxy,
};
