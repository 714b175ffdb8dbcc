/**
 * The modules a MoonBit source serves, read from the `.index` files at the tip of its git index
 * (hosted, proxied or united alike) and `yanked.json`, parsed once per tip: moon's API (search,
 * manifests, a user's modules) then costs nothing per request while nothing changes.
 */
import semver from 'semver';
import { historyTip, type HistoryTip } from '../../registry/git-history/state.js';
import type { Registry } from '../../registry/registry.js';
import type { Source } from '../../registry/source.js';
import { canonicalVersion, parseIndexLines, type IndexLine } from './index-line.js';
import { moduleOfIndexPath, parseModuleName, YANKED_PATH } from './names.js';
import { INDEX_HISTORY } from './store.js';

/** One version of a module: its index line (the last naming it, as moon reads it) and its yank status. */
export interface CatalogueVersion {
  version: string;
  line: IndexLine;
  yanked: boolean;
  yankedReason: string | null;
}

/** A module as moon's API describes it. */
export interface CatalogueModule {
  name: string;
  user: string;
  /** Ascending SemVer order; versions that are not SemVer are left out (moon cannot load them either). */
  versions: CatalogueVersion[];
  /** The highest SemVer, prereleases included when highest (as moon picks "latest"). */
  latest: CatalogueVersion;
  description: string;
  keywords: string[];
}

/** Every module of a source at one tip of its index. */
export interface Catalogue {
  head: number;
  modules: ReadonlyMap<string, CatalogueModule>;
  /** A user's modules, by name. */
  byUser: ReadonlyMap<string, CatalogueModule[]>;
}

/** The last catalogue built per registry and repo: a new tip replaces it. */
const built = new WeakMap<Registry, Map<number, Catalogue>>();

/** The catalogue of a source, brought up to date with its index (a proxy syncs its upstream when due); `stale` as the index is. */
export async function catalogueOf(registry: Registry, source: Source): Promise<{ catalogue: Catalogue; stale: boolean }> {
  const { ref, stale } = await source.gitHistory(INDEX_HISTORY);
  const tip = await historyTip(registry.db, ref);
  let mine = built.get(registry);
  if (!mine) built.set(registry, (mine = new Map()));
  let catalogue = mine.get(source.repo.id);
  if (!catalogue || catalogue.head !== tip.head) {
    catalogue = buildCatalogue(tip);
    mine.set(source.repo.id, catalogue);
  }
  return { catalogue, stale };
}

/** Reads `yanked.json` (`{"yankedPackages": [{name, version, reason}]}`); a file that does not parse yanks nothing. */
export function parseYanked(body: Uint8Array | undefined): Map<string, string | null> {
  const out = new Map<string, string | null>();
  if (!body) return out;
  try {
    const doc = JSON.parse(Buffer.from(body).toString('utf8')) as { yankedPackages?: unknown };
    for (const y of Array.isArray(doc.yankedPackages) ? doc.yankedPackages : []) {
      const { name, version, reason } = (y ?? {}) as Record<string, unknown>;
      if (typeof name === 'string' && typeof version === 'string')
        out.set(`${name}@${version}`, typeof reason === 'string' && reason !== '' ? reason : null);
    }
  } catch {
    // Only Larder's API reads it; an unreadable file must not take the API down.
  }
  return out;
}

/** The catalogue of the files at one tip. */
export function buildCatalogue(tip: HistoryTip): Catalogue {
  const yanked = parseYanked(tip.files.get(YANKED_PATH)?.data);
  const modules = new Map<string, CatalogueModule>();
  const byUser = new Map<string, CatalogueModule[]>();
  for (const [path, file] of tip.files) {
    const name = moduleOfIndexPath(path);
    const parsed = name ? parseModuleName(name) : null;
    if (!name || !parsed) continue;
    // The last line naming a version wins (moon's checksum lookup scans from the end).
    const byVersion = new Map<string, IndexLine>();
    for (const line of parseIndexLines(file.data)) if (canonicalVersion(line.version) === line.version) byVersion.set(line.version, line);
    if (byVersion.size === 0) continue;
    const versions = [...byVersion.values()]
      .sort((a, b) => semver.compare(a.version, b.version))
      .map((line) => {
        const key = `${name}@${line.version}`;
        return { version: line.version, line, yanked: yanked.has(key), yankedReason: yanked.get(key) ?? null };
      });
    const latest = versions[versions.length - 1]!;
    const m: CatalogueModule = {
      name,
      user: parsed.user,
      versions,
      latest,
      description: typeof latest.line.description === 'string' ? latest.line.description : '',
      keywords: Array.isArray(latest.line.keywords) ? latest.line.keywords.filter((k): k is string => typeof k === 'string') : [],
    };
    modules.set(name, m);
    let list = byUser.get(parsed.user);
    if (!list) byUser.set(parsed.user, (list = []));
    list.push(m);
  }
  for (const list of byUser.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { head: tip.head, modules, byUser };
}

/**
 * Modules matching a search as `moon search` expects them ranked: the exact name first, then names
 * starting with the words, then modules whose name, description or keywords hold every word.
 */
export function searchCatalogue(catalogue: Catalogue, kw: string, limit: number): CatalogueModule[] {
  const q = kw.trim().toLowerCase();
  const words = q.split(/\s+/).filter(Boolean);
  const ranked: Array<{ rank: number; m: CatalogueModule }> = [];
  for (const m of catalogue.modules.values()) {
    const name = m.name.toLowerCase();
    const short = name.slice(m.user.length + 1);
    let rank: number;
    if (!words.length) rank = 3;
    else if (name === q || short === q) rank = 0;
    else if (name.startsWith(q) || short.startsWith(q)) rank = 1;
    else {
      const text = [name, m.description.toLowerCase(), ...m.keywords.map((k) => k.toLowerCase())].join('\n');
      if (!words.every((w) => text.includes(w))) continue;
      rank = 2;
    }
    ranked.push({ rank, m });
  }
  ranked.sort((a, b) => a.rank - b.rank || (a.m.name < b.m.name ? -1 : a.m.name > b.m.name ? 1 : 0));
  return ranked.slice(0, limit).map((r) => r.m);
}
