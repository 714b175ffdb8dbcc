/**
 * Cargo's proxy parts (cargo.md §11): a sparse index upstream (crates.io by default) whose
 * `config.json` and index files are kept byte for byte, and whose `.crate` files are fetched from
 * where the upstream's `dl` says, verified against the index line's `cksum` before they are stored.
 */
import { fail } from '../../core/errors.js';
import type { ProxyContext, ProxyParts, VersionStamp } from '../../registry/source-parts.js';
import { indexFileLines, splitIndexFile } from './index-file.js';
import { crateKey, crateNameFromIndexPath, indexPath, normCrateName } from './names.js';
import { dependencyNames } from './search-fields.js';
import { defaultVersion } from './semver.js';

/** crates.io's sparse index. */
export const CRATES_IO_INDEX = 'https://index.crates.io/';
/** How index lines name crates.io in a dependency's `registry` field. */
const CRATES_IO_GIT_INDEX = 'https://github.com/rust-lang/crates.io-index';

/** cargo.md §4.1's prefix, from the name as given (case preserved): `1`, `2`, `3/a`, `ab/cd`. */
function prefixOf(name: string): string {
  if (name.length <= 2) return String(name.length);
  if (name.length === 3) return `3/${name[0]}`;
  return `${name.slice(0, 2)}/${name.slice(2, 4)}`;
}

const MARKERS = ['{crate}', '{version}', '{prefix}', '{lowerprefix}', '{sha256-checksum}'];

/** The download URL of a crate as Cargo builds it from `dl` (cargo.md §6.1): markers replaced as plain text, none → `/{crate}/{version}/download`. */
export function crateDownloadUrl(dl: string, name: string, version: string, cksum: string): string {
  if (!MARKERS.some((m) => dl.includes(m))) return `${dl.replace(/\/+$/, '')}/${name}/${version}/download`;
  const prefix = prefixOf(name);
  return dl
    .replaceAll('{crate}', name)
    .replaceAll('{version}', version)
    .replaceAll('{lowerprefix}', prefix.toLowerCase())
    .replaceAll('{prefix}', prefix)
    .replaceAll('{sha256-checksum}', cksum);
}

/** The sparse index URL without `sparse+` and without the trailing slash (the proxy adds `/{path}`). */
function upstreamBase(configured: string): string {
  return configured.replace(/^sparse\+/, '').replace(/\/+$/, '');
}

/** Whether a dependency's `registry` names the proxy's own upstream (null: the same registry as the line). */
function sameRegistry(registry: string | null | undefined, upstream: string): boolean {
  if (registry == null) return true;
  const r = upstreamBase(registry);
  return r === upstream || (r === CRATES_IO_GIT_INDEX && upstream === upstreamBase(CRATES_IO_INDEX));
}

/** The upstream's `dl` template, read from its `config.json` through the proxy (cached and revalidated like an index file). */
async function upstreamDl(ctx: ProxyContext): Promise<string> {
  const doc = await ctx.doc('config.json');
  if (!doc) fail('UPSTREAM_FAILED', `the upstream ${ctx.upstream}/ has no config.json: it is not a Cargo sparse index`);
  let dl: unknown;
  try {
    dl = (JSON.parse(doc.body.toString('utf8')) as { dl?: unknown }).dl;
  } catch {
    dl = undefined;
  }
  if (typeof dl !== 'string' || !/^https?:\/\//.test(dl)) {
    fail('UPSTREAM_FAILED', `the config.json of ${ctx.upstream}/ has no http(s) "dl" URL, so its crates cannot be downloaded`);
  }
  return dl;
}

/** What Cargo supplies to a proxy repo. */
export const cargoProxy: ProxyParts = {
  defaultUpstream: CRATES_IO_INDEX,
  upstreamBase,
  docUrl: (upstream, path) => (path === 'config.json' || crateNameFromIndexPath(path) ? `${upstream}/${path}` : null),
  // Index files gain versions and flip `yanked`; config.json may move `dl`. Nothing is immutable.
  docLifetime: () => 'mutable',

  async artifactOrigin(ctx, key) {
    const slash = key.indexOf('/');
    const crate = key.slice(0, slash);
    const version = key.slice(slash + 1);
    if (!crate || !version || !crateNameFromIndexPath(indexPath(crate))) return null;
    // The served (cooldown-filtered) file: a version clients cannot see is not downloaded either.
    const doc = await ctx.doc(indexPath(crate));
    if (!doc) return null;
    const line = indexFileLines(doc.body).find((l) => l.vers === version && l.name.toLowerCase() === crate.toLowerCase());
    // Never fetch a crate without a checksum to hold it to.
    if (!line || typeof line.cksum !== 'string' || !/^[0-9a-f]{64}$/.test(line.cksum)) return null;
    const dl = await upstreamDl(ctx);
    return {
      url: crateDownloadUrl(dl, line.name, line.vers, line.cksum),
      // The operator configured this upstream, and its config.json names where its crates live.
      trusted: true,
      sha256: line.cksum,
      what: `crate ${line.name}@${line.vers}`,
    };
  },

  versions(path, body): VersionStamp[] {
    if (!crateNameFromIndexPath(path)) return [];
    return indexFileLines(body).map((l) => {
      const at = l.pubtime === null ? NaN : Date.parse(l.pubtime);
      return Number.isFinite(at) ? { version: l.vers, publishedAt: at } : { version: l.vers };
    });
  },

  withoutVersions(_path, body, hidden) {
    // Other lines keep their exact bytes; a line that does not parse is not a version and stays.
    const kept = splitIndexFile(body).filter((l) => !(l.line && hidden.has(l.line.vers)));
    return kept.some((l) => l.line) ? Buffer.concat(kept.map((l) => l.bytes)) : null;
  },

  searchEntry(path, body) {
    const file = crateNameFromIndexPath(path);
    if (!file) return null;
    // Only lines of the crate the path names: an upstream cannot make one file index another crate.
    const lines = indexFileLines(body).filter((l) => l.name.toLowerCase() === file);
    if (lines.length === 0) return null;
    const latest = defaultVersion(lines);
    // The name as the chosen version spells it (names keep their published case).
    const shown = lines.find((l) => l.vers === latest) ?? lines[lines.length - 1];
    return {
      package: normCrateName(shown.name),
      name: shown.name,
      // Index lines carry no description or keywords (crates.io keeps those in its API, which a proxy does not read).
      description: null,
      keywords: [],
      // null: every version is yanked, nothing installable is left, and search drops the crate (as for hosted crates).
      latestVersion: latest,
      dependencies: latest === null ? [] : dependencyNames(shown.deps),
    };
  },

  async mirrorPackage(ctx, crate) {
    const doc = await ctx.doc(indexPath(crate));
    if (!doc) return null;
    const lines = indexFileLines(doc.body);
    const dependencies = new Set<string>();
    for (const line of lines) {
      for (const dep of line.deps ?? []) {
        // Cargo never resolves the dev-dependencies of a registry crate, and a dependency on another
        // registry is that registry's to serve.
        if (dep.kind === 'dev' || !sameRegistry(dep.registry, ctx.upstream)) continue;
        dependencies.add(dep.package ?? dep.name);
      }
    }
    return {
      // Yanked versions too: a Cargo.lock that pins one still builds (Cargo downloads yanked crates
      // it is locked to), and the upstream keeps serving them, so an offline mirror must as well.
      artifacts: lines.map((l) => crateKey(l.name, l.vers)),
      dependencies: [...dependencies],
    };
  },
};
