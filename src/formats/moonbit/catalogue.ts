/**
 * The modules a MoonBit source serves, read from the `.index` files at the tip of its git index
 * (hosted, proxied or united alike) and `yanked.json`, parsed once per tip: moon's API (search,
 * manifests, a user's modules) then costs nothing per request while nothing changes.
 */
import { historyTip, type HistoryTip } from '../../registry/git-history/state.js';
import type { Registry } from '../../registry/registry.js';
import type { Source } from '../../registry/source.js';
import { parseYanked, readModule, type CatalogueModule } from './module-versions.js';
import { moduleOfIndexPath, YANKED_PATH } from './names.js';
import { INDEX_HISTORY } from './store.js';

export { parseYanked, type CatalogueModule, type CatalogueVersion } from './module-versions.js';

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

/** The catalogue of the files at one tip. */
export function buildCatalogue(tip: HistoryTip): Catalogue {
  const yanked = parseYanked(tip.files.get(YANKED_PATH)?.data);
  const modules = new Map<string, CatalogueModule>();
  const byUser = new Map<string, CatalogueModule[]>();
  for (const [path, file] of tip.files) {
    const name = moduleOfIndexPath(path);
    const m = name ? readModule(name, file.data, yanked) : null;
    if (!m) continue;
    modules.set(m.name, m);
    let list = byUser.get(m.user);
    if (!list) byUser.set(m.user, (list = []));
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
