/**
 * A crates.io-like sparse index on a fake upstream: `config.json` (marker-less `dl`, or a template),
 * index files written the way crates.io writes them (one JSON line per version, `pubtime`), and the
 * `.crate` files those lines' `cksum` promise.
 *
 *   const up = await startFakeUpstream();
 *   const io = fakeCratesIo(up);
 *   const { crate, cksum } = await io.add({ name: 'serde', vers: '1.0.0' });
 *   // GET {up.url}/se/rd/serde, GET {up.url}/crates/serde/1.0.0/download
 */
import { cargoToml, sha256Hex, tarGz } from './cargo.js';
import type { FakeUpstream } from './fake-upstream.js';

/** One dependency as crates.io writes it. */
export interface UpstreamDep {
  name: string;
  req: string;
  kind?: 'normal' | 'dev' | 'build';
  package?: string;
  registry?: string;
}

export interface UpstreamVersion {
  name: string;
  vers: string;
  deps?: UpstreamDep[];
  yanked?: boolean;
  /** ISO `YYYY-MM-DDTHH:MM:SSZ`; null leaves the field out (old lines). Default: 2020-01-01T00:00:00Z. */
  pubtime?: string | null;
  /** Rust source of src/lib.rs (default: a `hello` function). */
  lib?: string;
}

export interface PublishedUpstream {
  crate: Buffer;
  cksum: string;
  /** The index line, without its `\n`. */
  line: string;
  /** Where the `.crate` is served. */
  cratePath: string;
  /** Where the index file is served. */
  indexPath: string;
}

/** cargo.md §4.1. */
export function sparsePath(name: string): string {
  const n = name.toLowerCase();
  if (n.length <= 2) return `${n.length}/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

/** The Cargo.toml inside a .crate, with its normal dependencies (the build reads them from here). */
function manifestOf(v: UpstreamVersion): string {
  const deps = (v.deps ?? []).filter((d) => (d.kind ?? 'normal') === 'normal');
  const table = deps.map((d) => (d.package ? `${d.name} = { version = "${d.req}", package = "${d.package}" }` : `${d.name} = "${d.req}"`));
  return cargoToml(v.name, v.vers, table.length > 0 ? `\n[dependencies]\n${table.join('\n')}\n` : '');
}

/** A crates.io-like registry served by `up` (paths at its root). */
export function fakeCratesIo(up: FakeUpstream, opts: { dl?: string } = {}) {
  const files = new Map<string, string[]>();
  up.set('/config.json', { body: JSON.stringify({ dl: opts.dl ?? `${up.url}/crates`, api: 'https://crates.io' }) });
  return {
    /** Builds a .crate, serves it at `/crates/{name}/{vers}/download` and appends its line to the index file. */
    async add(v: UpstreamVersion): Promise<PublishedUpstream> {
      const root = `${v.name}-${v.vers}`;
      const crate = await tarGz([
        { name: `${root}/`, type: 'directory' },
        { name: `${root}/Cargo.toml`, body: manifestOf(v) },
        { name: `${root}/src/lib.rs`, body: v.lib ?? `pub fn hello() -> &'static str { "${v.name} ${v.vers}" }\n` },
      ]);
      const cksum = sha256Hex(crate);
      const deps = (v.deps ?? []).map((d) => ({
        name: d.name,
        req: d.req,
        features: [],
        optional: false,
        default_features: true,
        target: null,
        kind: d.kind ?? 'normal',
        ...(d.registry ? { registry: d.registry } : {}),
        ...(d.package ? { package: d.package } : {}),
      }));
      const pubtime = v.pubtime === undefined ? '2020-01-01T00:00:00Z' : v.pubtime;
      const line = JSON.stringify({
        name: v.name,
        vers: v.vers,
        deps,
        cksum,
        features: {},
        yanked: v.yanked ?? false,
        rust_version: null,
        ...(pubtime ? { pubtime } : {}),
      });
      const indexPath = `/${sparsePath(v.name)}`;
      const lines = [...(files.get(indexPath) ?? []), line];
      files.set(indexPath, lines);
      up.set(indexPath, { body: `${lines.join('\n')}\n`, headers: { 'content-type': 'text/plain' } });
      const cratePath = `/crates/${v.name}/${v.vers}/download`;
      up.set(cratePath, { body: crate, headers: { 'content-type': 'application/gzip' } });
      return { crate, cksum, line, cratePath, indexPath };
    },
  };
}
