/**
 * MoonBit's proxy parts (protocols/moonbit.md §10): the index is the upstream's git repository
 * (`{upstream}/git/index`, branch `main`), re-served from the proxy's own history; zips come from the
 * download host and must hash to the index `checksum` before they are stored.
 */
import type { ProxyContext, ProxyParts } from '../../registry/source-parts.js';
import { CORE_MODULE, findVersionLine, parseIndexLines, registryDeps } from './index-line.js';
import { archiveKey, archiveUrlPath, indexPath, moduleOfIndexPath, parseArchiveKey } from './names.js';
import { INDEX_BRANCH, INDEX_HISTORY } from './store.js';

/** mooncakes.io serves its index itself and its archives from a separate host (§1, §14.1). */
export const MOONCAKES = 'https://mooncakes.io';

/** Where an upstream's archives and symbols.zip are: the official download host for mooncakes.io, the base itself otherwise. */
export function downloadBase(upstream: string): string {
  return upstream === MOONCAKES ? 'https://download.mooncakes.io' : upstream;
}

const CHECKSUM = /^[0-9a-f]{64}$/;

/** The index lines of a module through a proxy, or null when the upstream has no such module. */
async function moduleLines(ctx: ProxyContext, module: string) {
  const doc = await ctx.doc(indexPath(module));
  return doc ? { doc, lines: parseIndexLines(doc.body) } : null;
}

export const moonbitProxy: ProxyParts = {
  defaultUpstream: MOONCAKES,
  upstreamGit: { history: INDEX_HISTORY, branch: INDEX_BRANCH, url: (upstream) => `${upstream}/git/index` },
  // Only symbols.zip is an HTTP document; every other path is a file of the git index.
  docUrl: (upstream, path) => (path === 'symbols.zip' ? `${downloadBase(upstream)}/symbols.zip` : null),
  docLifetime: () => 'mutable',
  async artifactOrigin(ctx, key) {
    const k = parseArchiveKey(key);
    if (!k) return null;
    const doc = await ctx.doc(indexPath(k.module));
    const line = doc ? findVersionLine(doc.body, k.version) : null;
    if (!line || typeof line.checksum !== 'string' || !CHECKSUM.test(line.checksum)) return null;
    return {
      url: `${downloadBase(ctx.upstream)}/${archiveUrlPath(k.module, k.version)}`,
      trusted: true,
      sha256: line.checksum,
      what: `module ${k.module}@${k.version}`,
    };
  },
  async mirrorPackage(ctx, module) {
    const found = await moduleLines(ctx, module);
    if (!found) return null;
    const artifacts: string[] = [];
    const dependencies = new Set<string>();
    for (const line of found.lines) {
      if (typeof line.checksum === 'string' && CHECKSUM.test(line.checksum)) artifacts.push(archiveKey(module, line.version));
      for (const dep of registryDeps(line).keys()) if (dep !== CORE_MODULE) dependencies.add(dep);
    }
    return { artifacts: [...new Set(artifacts)], dependencies: [...dependencies] };
  },
  async *listPackages(ctx) {
    const tip = await ctx.gitTip();
    for (const path of tip.files.keys()) {
      const module = moduleOfIndexPath(path);
      if (module) yield module;
    }
  },
};
