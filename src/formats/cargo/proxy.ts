/**
 * Cargo's proxy parts (cargo.md §11): a sparse index upstream (crates.io by default) whose
 * `config.json` and index files are kept byte for byte, and whose `.crate` files are fetched from
 * where the upstream's `dl` says, verified against the index line's `cksum` before they are stored.
 */
import semver from 'semver';
import { fail } from '../../core/errors.js';
import type { ProxyContext, ProxyParts, ProxySearchEntry, VersionStamp } from '../../registry/source-parts.js';
import { crateKey, crateNameFromIndexPath, indexPath, normCrateName } from './names.js';

/** crates.io's sparse index. */
export const CRATES_IO_INDEX = 'https://index.crates.io/';
/** How index lines name crates.io in a dependency's `registry` field. */
const CRATES_IO_GIT_INDEX = 'https://github.com/rust-lang/crates.io-index';

/** The fields of an index line a proxy reads; everything else is passed through untouched. */
interface UpstreamLine {
  name: string;
  vers: string;
  cksum?: string;
  pubtime?: string;
  yanked?: boolean;
  deps?: Array<{ name?: string; package?: string | null; registry?: string | null; kind?: string | null }>;
}

/** One line of an index file: its bytes (with the `\n`, if any) and what it says, when it parses. */
interface RawLine {
  bytes: Buffer;
  line: UpstreamLine | null;
}

/** Splits an index file into lines without touching their bytes. */
function splitLines(body: Buffer): RawLine[] {
  const out: RawLine[] = [];
  let start = 0;
  while (start < body.length) {
    const nl = body.indexOf(0x0a, start);
    const end = nl < 0 ? body.length : nl + 1;
    const bytes = body.subarray(start, end);
    out.push({ bytes, line: parseLine(bytes) });
    start = end;
  }
  return out;
}

/** A line's JSON when it names a crate and version; null for blank or broken lines (Cargo skips those too). */
function parseLine(bytes: Buffer): UpstreamLine | null {
  const text = bytes.toString('utf8').trim();
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const line = v as Record<string, unknown>;
    return typeof line.name === 'string' && typeof line.vers === 'string' ? (line as unknown as UpstreamLine) : null;
  } catch {
    return null;
  }
}

/** The parsed lines of an index file. */
function linesOf(body: Buffer): UpstreamLine[] {
  return splitLines(body).flatMap((l) => (l.line ? [l.line] : []));
}

/**
 * What search records for an upstream index file: the crate as its last line names it, the newest version Cargo
 * would pick (not yanked, by SemVer) and what that version depends on; null for other paths or when every
 * version is yanked (as for a hosted crate). The sparse index carries no description or keywords.
 */
export function indexFileSearchEntry(path: string, body: Buffer): ProxySearchEntry | null {
  const crate = crateNameFromIndexPath(path);
  if (!crate) return null;
  // Lines naming another crate than the path's are not this crate's (and must not touch that crate's entry).
  const lines = linesOf(body).filter((l) => l.name.toLowerCase() === crate);
  const last = lines.at(-1);
  let latest: UpstreamLine | null = null;
  for (const l of lines) {
    if (l.yanked === true || !semver.valid(l.vers)) continue;
    if (!latest || semver.gt(l.vers, latest.vers)) latest = l;
  }
  if (!last || !latest) return null;
  const deps = Array.isArray(latest.deps) ? latest.deps : [];
  const dependencies = deps.map((d) => d?.package ?? d?.name).filter((n): n is string => typeof n === 'string' && n !== '');
  return { package: normCrateName(last.name), name: last.name, latestVersion: latest.vers, dependencies };
}

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
    const line = linesOf(doc.body).find((l) => l.vers === version && l.name.toLowerCase() === crate.toLowerCase());
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
    return linesOf(body).map((l) => {
      const at = typeof l.pubtime === 'string' ? Date.parse(l.pubtime) : NaN;
      return Number.isFinite(at) ? { version: l.vers, publishedAt: at } : { version: l.vers };
    });
  },

  searchEntry: indexFileSearchEntry,

  withoutVersions(_path, body, hidden) {
    // Other lines keep their exact bytes; a line that does not parse is not a version and stays.
    const kept = splitLines(body).filter((l) => !(l.line && hidden.has(l.line.vers)));
    return kept.some((l) => l.line) ? Buffer.concat(kept.map((l) => l.bytes)) : null;
  },

  async mirrorPackage(ctx, crate) {
    const doc = await ctx.doc(indexPath(crate));
    if (!doc) return null;
    const lines = linesOf(doc.body);
    const dependencies = new Set<string>();
    for (const line of lines) {
      for (const dep of line.deps ?? []) {
        // Cargo never resolves the dev-dependencies of a registry crate, and a dependency on another
        // registry is that registry's to serve.
        if (dep.kind === 'dev' || !sameRegistry(dep.registry, ctx.upstream)) continue;
        const name = dep.package ?? dep.name;
        if (typeof name === 'string' && name) dependencies.add(name);
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
