/**
 * Cargo's package pages (issue 12): versions, yanks and dependencies come from the crate's index file, read
 * through the repo's source, so hosted, proxy and group repos all have pages. The publish metadata a hosted
 * repo keeps (description, license, links, keywords) is added for the exact `.crate` the page shows, found
 * by its checksum; an upstream's index says none of it, so a proxy's page simply goes without.
 */
import type { DependencyView, PackageFact, PackageLink, PackageView, UsageSnippet, WebParts } from '../../registry/package-view.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Source } from '../../registry/source.js';
import { cargoDependency, cargoRegistrySetup } from './client-setup.js';
import { indexFileLines, type IndexFileDependency, type IndexFileLine } from './index-file.js';
import { crateNameFromIndexPath, indexPath, normCrateName } from './names.js';
import { CRATES_IO_INDEX } from './proxy.js';
import type { CargoTables } from './schema.js';
import { defaultVersion, newestFirst, versionKey } from './semver.js';
import { cargoUrls } from './urls.js';

interface Ctx {
  registry: Registry;
  repo: Repo;
  source: Source;
}

/** A longer list of features is cut there on the page. */
const MAX_FEATURES_SHOWN = 30;
const CRATES_IO_GIT_INDEX = 'https://github.com/rust-lang/crates.io-index';

/** The repo and, for a group, its members (recursively): whose hosted rows may describe what the repo serves. */
function servedRepoIds(registry: Registry, repo: Repo, seen = new Set<string>()): number[] {
  seen.add(repo.name);
  return [
    repo.id,
    ...(repo.members ?? []).flatMap((name) => {
      const member = registry.repos.get(name);
      return member && !seen.has(name) ? servedRepoIds(registry, member, seen) : [];
    }),
  ];
}

/**
 * The crate's index lines, found from its canonical id (`foo_bar`) or any spelling: the index path keeps `-` and
 * `_` apart, so the spellings hosted rows and search entries recorded are tried first, then the id as given and
 * its all-`-` and all-`_` forms. An upstream failure surfaces only when no spelling was found.
 */
async function findCrate({ registry, repo, source }: Ctx, pkg: string): Promise<IndexFileLine[] | null> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(pkg)) return null;
  const norm = normCrateName(pkg);
  const ids = servedRepoIds(registry, repo);
  const [rows, entries] = await Promise.all([
    registry.db
      .withTables<CargoTables>()
      .selectFrom('cargo_crates')
      .select('name')
      .where('repo_id', 'in', ids)
      .where('norm_name', '=', norm)
      .execute(),
    registry.db
      .selectFrom('search_entries')
      .select('name')
      .where('repo_id', 'in', ids)
      .where('format', '=', 'cargo')
      .where('package', '=', norm)
      .execute(),
  ]);
  const spellings = new Set([...rows, ...entries].map((r) => r.name.toLowerCase()));
  for (const s of [pkg.toLowerCase(), norm.replace(/_/g, '-'), norm]) spellings.add(s);
  let failure: unknown = null;
  for (const spelling of spellings) {
    const path = indexPath(spelling);
    if (!crateNameFromIndexPath(path)) continue;
    try {
      const doc = await source.doc(path);
      const lines = doc ? indexFileLines(doc.body).filter((l) => normCrateName(l.name) === norm) : [];
      if (lines.length > 0) return lines;
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== null) throw failure;
  return null;
}

/** What hosted rows say about the versions of a crate the repo serves, matched by checksum (the same `.crate` bytes). */
async function hostedVersions(ctx: Ctx, norm: string): Promise<Map<string, { pubtime: number; description: string | null }>> {
  const rows = await ctx.registry.db
    .withTables<CargoTables>()
    .selectFrom('cargo_versions')
    .innerJoin('cargo_crates', 'cargo_crates.id', 'cargo_versions.crate_id')
    .select(['cargo_versions.cksum', 'cargo_versions.pubtime', 'cargo_crates.description'])
    .where('cargo_crates.repo_id', 'in', servedRepoIds(ctx.registry, ctx.repo))
    .where('cargo_crates.norm_name', '=', norm)
    .execute();
  return new Map(rows.map((r) => [r.cksum, { pubtime: Number(r.pubtime), description: r.description }]));
}

/** The publish metadata a hosted repo stored for exactly this `.crate`, or an empty object. */
async function storedMetadata(ctx: Ctx, line: IndexFileLine): Promise<Record<string, unknown>> {
  if (line.cksum === null) return {};
  const row = await ctx.registry.db
    .withTables<CargoTables>()
    .selectFrom('cargo_versions')
    .innerJoin('cargo_crates', 'cargo_crates.id', 'cargo_versions.crate_id')
    .select('cargo_versions.metadata')
    .where('cargo_crates.repo_id', 'in', servedRepoIds(ctx.registry, ctx.repo))
    .where('cargo_crates.norm_name', '=', normCrateName(line.name))
    .where('cargo_versions.vers', '=', line.vers)
    .where('cargo_versions.cksum', '=', line.cksum)
    .limit(1)
    .executeTakeFirst();
  try {
    const meta = JSON.parse(row?.metadata ?? '{}') as unknown;
    return typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** Where a dependency on another registry comes from, as the page says it. */
function registryLabel(registry: string): string {
  const url = registry.replace(/^sparse\+/, '').replace(/\/+$/, '');
  if (url === CRATES_IO_GIT_INDEX || url === CRATES_IO_INDEX.replace(/\/+$/, '')) return 'from crates.io';
  try {
    return `from ${new URL(url).host}`;
  } catch {
    return 'from another registry';
  }
}

/** Whether the repo serves a crate (one cached document read); a failing upstream counts as no. */
async function serves(source: Source, crate: string): Promise<boolean> {
  const path = indexPath(crate);
  if (!crateNameFromIndexPath(path)) return false;
  const peeked = source.peek(path);
  if (peeked !== undefined) return peeked !== null;
  return source.doc(path).then(
    (doc) => doc !== null,
    () => false,
  );
}

const KIND_ORDER = { normal: 0, build: 1, dev: 2 } as const;

/** The dependencies of one version by real crate name, normal then build then dev; linked when this repo serves them. */
async function dependencyViews(source: Source, deps: readonly IndexFileDependency[]): Promise<DependencyView[]> {
  const sorted = [...deps].sort(
    (a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.package ?? a.name).localeCompare(b.package ?? b.name),
  );
  return Promise.all(
    sorted.map(async (d) => {
      const crate = d.package ?? d.name;
      const notes = [
        d.kind === 'normal' ? null : d.kind,
        d.optional ? 'optional' : null,
        d.target,
        d.package && d.package !== d.name ? `as ${d.name}` : null,
        d.registry === null ? null : registryLabel(d.registry),
      ].filter((n): n is string => n !== null);
      // A dependency on another registry is that registry's crate, even when a crate of the same name is here.
      const here = d.registry === null && (await serves(source, crate));
      return {
        name: crate,
        requirement: d.req,
        kind: notes.length > 0 ? notes.join(', ') : null,
        package: here ? normCrateName(crate) : null,
      };
    }),
  );
}

/** Facts under the title: what identifies this exact version to Cargo. */
function factsOf(line: IndexFileLine): PackageFact[] {
  const facts: PackageFact[] = [];
  if (line.rustVersion) facts.push({ label: 'Rust version', value: line.rustVersion });
  if (line.features.length > 0) {
    const shown = [...line.features].sort();
    const more = shown.length - MAX_FEATURES_SHOWN;
    facts.push({ label: 'Features', value: shown.slice(0, MAX_FEATURES_SHOWN).join(', ') + (more > 0 ? ` and ${more} more` : '') });
  }
  if (line.links) facts.push({ label: 'Native library (links)', value: line.links });
  if (line.cksum) facts.push({ label: 'Checksum (SHA-256)', value: line.cksum });
  return facts;
}

/** The links a version's publish metadata declares, as crates.io names them. */
function linksOf(meta: Record<string, unknown>): PackageLink[] {
  const links: PackageLink[] = [];
  for (const [key, label] of [
    ['homepage', 'Homepage'],
    ['repository', 'Repository'],
    ['documentation', 'Documentation'],
  ] as const) {
    const url = text(meta[key]);
    if (url) links.push({ label, url });
  }
  return links;
}

/** Cargo's part of the web UI. */
export const cargoWeb: WebParts = {
  async packageView(ctx, pkg, version) {
    const lines = await findCrate(ctx, pkg);
    if (!lines) return null;
    const sorted = newestFirst(lines);
    const latest = defaultVersion(lines);
    // `?version=1.0.0` also finds `1.0.0+build`: build metadata does not make another version.
    const shown =
      version === undefined
        ? (sorted.find((l) => l.vers === latest) ?? sorted[0])
        : (sorted.find((l) => l.vers === version) ?? sorted.find((l) => versionKey(l.vers) === version));
    if (!shown) return null;
    const norm = normCrateName(shown.name);
    const [hosted, meta, dependencies] = await Promise.all([
      hostedVersions(ctx, norm),
      storedMetadata(ctx, shown),
      dependencyViews(ctx.source, shown.deps),
    ]);
    const license = text(meta.license) ?? (text(meta.license_file) ? `see ${text(meta.license_file)}` : null);
    const keywords = Array.isArray(meta.keywords) ? meta.keywords.filter((k): k is string => typeof k === 'string') : [];
    const view: PackageView = {
      package: norm,
      name: shown.name,
      version: shown.vers,
      latest,
      description: text(meta.description) ?? (shown.cksum === null ? null : (hosted.get(shown.cksum)?.description ?? null)),
      license,
      keywords,
      links: linksOf(meta),
      versions: sorted.map((l) => {
        const at = l.pubtime === null ? NaN : Date.parse(l.pubtime);
        const row = l.cksum === null ? undefined : hosted.get(l.cksum);
        return { version: l.vers, publishedAt: Number.isFinite(at) ? at : (row?.pubtime ?? null), yanked: l.yanked, yankReason: null };
      }),
      dependencies,
      facts: factsOf(shown),
    };
    return view;
  },

  usage(repo, baseUrl, view): UsageSnippet[] {
    const dep = cargoDependency(repo, view.name, view.version);
    const yanked = view.versions.find((v) => v.version === view.version)?.yanked === true;
    return [
      {
        label: 'Cargo.toml, under [dependencies]',
        code: dep.toml,
        note: yanked
          ? `${view.version} is yanked: a new Cargo.lock gets the newest compatible version that is not, and fails when there is none.`
          : `Cargo reads "${versionKey(view.version)}" as ^${versionKey(view.version)}: this version or a newer compatible one.`,
      },
      { label: 'Or run', code: dep.add },
      {
        label: '.cargo/config.toml',
        code: cargoRegistrySetup(repo, cargoUrls(baseUrl, repo.name)),
        note: 'Once per machine (or per project): tells Cargo to use this repository.',
      },
    ];
  },
};
