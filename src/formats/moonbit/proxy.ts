/**
 * MoonBit's proxy parts (protocols/moonbit.md §10): the index is the upstream's git repository
 * (`{upstream}/git/index`, branch `main`), re-served from the proxy's own history; zips come from the
 * download host and must hash to the index `checksum` before they are stored; `symbols.zip` is a
 * document revalidated with the upstream's ETag; prebuilt Wasm (§7) is pulled through from
 * `{upstream}/assets/…`, its `.sha256` first, and the Wasm must hash to that file's first token.
 * No cooldown: a git index cannot hide a version without rewriting history clients pulled, so a
 * MoonBit proxy configured with `cooldown` refuses to start (src/upstream/proxy-source.ts).
 */
import type { Readable } from 'node:stream';
import type { ArtifactOrigin, ProxyContext, ProxyParts } from '../../registry/source-parts.js';
import { CORE_MODULE, findVersionLine, parseIndexLines, registryDeps } from './index-line.js';
import { archiveKey, archiveUrlPath, indexPath, moduleOfIndexPath, parseArchiveKey } from './names.js';
import { proxySearchEntry } from './search.js';
import { INDEX_BRANCH, INDEX_HISTORY } from './store.js';

/** mooncakes.io serves its index itself and its archives from a separate host (§1, §14.1). */
export const MOONCAKES = 'https://mooncakes.io';

/** Where an upstream's archives and symbols.zip are: the official download host for mooncakes.io, the base itself otherwise. */
export function downloadBase(upstream: string): string {
  return upstream === MOONCAKES ? 'https://download.mooncakes.io' : upstream;
}

const CHECKSUM = /^[0-9a-f]{64}$/;

/** Artifact keys of prebuilt Wasm and their checksum files: the URL path below the registry base (§7). */
const ASSETS = 'assets/';
/** A `.sha256` file is `<hex>[  <name>]\n`: a few bytes, never more than this. */
const MAX_CHECKSUM_FILE = 4096;

/**
 * The upstream URL of an asset key (`assets/<user>/<name>@<version>/…/<stem>.wasm[.sha256]`), each
 * segment percent-encoded where a URL needs it (`@` kept, as moon sends it); null for any other key.
 */
function assetUrl(upstream: string, key: string): string | null {
  if (!key.startsWith(ASSETS) || !/\.wasm(\.sha256)?$/.test(key)) return null;
  const parts = key.slice(ASSETS.length).split('/');
  if (parts.length < 3 || parts.some((c) => c === '' || c === '.' || c === '..')) return null;
  return `${upstream}/assets/${parts.map((c) => encodeURIComponent(c).replace(/%40/g, '@')).join('/')}`;
}

/** The first whitespace-separated token of a `.sha256` file when it is 64 hex digits (as moon reads it), lower-cased; else null. */
export function checksumToken(body: string): string | null {
  const token = body.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  return CHECKSUM.test(token) ? token : null;
}

/** Reads a stream to its end (a `.sha256` file: a few bytes). */
async function readAll(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Where a prebuilt Wasm file or its checksum comes from. The `.sha256` is checked to be one (its bytes
 * are all the promise there is); the Wasm must hash to it, so its checksum file is fetched first.
 */
async function assetOrigin(ctx: ProxyContext, key: string): Promise<ArtifactOrigin | null> {
  const url = assetUrl(ctx.upstream, key);
  if (!url) return null;
  const what = `prebuilt wasm ${key.slice(ASSETS.length)}`;
  if (key.endsWith('.sha256'))
    return {
      url,
      trusted: true,
      maxSize: MAX_CHECKSUM_FILE,
      what,
      check: async (body) => {
        if (!checksumToken(await readAll(body))) throw new Error('is not a checksum file (its first token is not 64 hex digits)');
      },
    };
  const sum = await ctx.artifact(`${key}.sha256`);
  if (!sum) return null;
  const sha256 = checksumToken(await readAll(sum.blob.stream()));
  return sha256 ? { url, trusted: true, sha256, what } : null;
}

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
  searchEntry: proxySearchEntry,
  async artifactOrigin(ctx, key) {
    if (key.startsWith(ASSETS)) return assetOrigin(ctx, key);
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
