/**
 * Julia's proxy and group parts (what PkgServer.jl does): `/registries` from the upstream Pkg server,
 * revalidated after the TTL; registry, package and artifact tarballs fetched once from
 * `${upstream}/${key}` and verified by tree hash before they are stored (protocols/julia.md §11.2).
 * Groups merge `/registries` (one line per registry UUID, first member wins).
 */
import { parse as parseToml } from 'smol-toml';
import { unpackedLimit } from '../../core/config/unpacked-limits.js';
import type { Registry } from '../../registry/registry.js';
import type { GroupParts, MirrorPlan, ProxyContext, ProxyParts } from '../../registry/source-parts.js';
import { parseTarballKey, REGISTRIES_DOC, TREE_HASH, UUID } from './ids.js';
/** Tarball reading (tar, gzip, tree hashes) is loaded on first use, not by every start (cold start, issue 14). */
const tarballs = () => import('./upstream-tarball.js');

/** The public Pkg server (a load balancer that redirects to regional servers). */
export const JULIA_DEFAULT_UPSTREAM = 'https://pkg.julialang.org';
/** Room for tar headers and padding per entry on top of the unpacked bytes. */
const TAR_OVERHEAD_PER_ENTRY = 2048;

/** The `/registry/{uuid}/{hash}` lines of a `/registries` body, as Pkg reads them (§3.2): other lines ignored. */
export function registryLines(body: Buffer): Array<{ uuid: string; hash: string }> {
  const out: Array<{ uuid: string; hash: string }> = [];
  for (const line of body.toString('utf8').split('\n')) {
    const m = /^\/registry\/([^/]+)\/([^/]+)$/.exec(line.trim());
    if (m && UUID.test(m[1]!) && TREE_HASH.test(m[2]!)) out.push({ uuid: m[1]!, hash: m[2]! });
  }
  return out;
}

/** The most bytes a tarball of this kind may unpack to (its tar stream), from the unpacked limits. */
export function maxTarSize(registry: Registry, kind: 'registry' | 'package' | 'artifact'): number {
  const unpacked =
    kind === 'registry'
      ? registry.config.limits.maxUnpackedSize
      : unpackedLimit(registry.config, kind === 'package' ? 'juliaPackage' : 'juliaArtifact');
  return unpacked + TAR_OVERHEAD_PER_ENTRY * registry.config.limits.maxArchiveEntries;
}

type Toml = Record<string, unknown>;
const tomlOf = (b: Buffer | undefined): Toml => {
  if (!b) return {};
  try {
    return parseToml(b.toString('utf8')) as Toml;
  } catch {
    return {};
  }
};

/** One upstream registry read from its stored tarball: Registry.toml's packages and the files mirroring reads. */
interface RegistryView {
  withFiles: boolean;
  packages: Map<string, { name: string; path: string }>;
  files: Map<string, Buffer>;
}

/** Parsed registry tarballs by blob sha256: General is read once per mirror run, not once per package. */
const views = new Map<string, RegistryView>();
const MAX_VIEWS = 4;

async function registryView(ctx: ProxyContext, key: string, withFiles: boolean): Promise<RegistryView | null> {
  const tarball = await ctx.artifact(key);
  if (!tarball) return null;
  const cached = views.get(tarball.sha256);
  if (cached && (cached.withFiles || !withFiles)) return cached;
  const wanted = (p: string) => p === 'Registry.toml' || (withFiles && /\/(Versions|Deps)\.toml$/.test(p));
  const files = await (await tarballs()).readTarballFiles(tarball.blob.stream(), wanted, maxTarSize(ctx.registry, 'registry'));
  const listed = (tomlOf(files.get('Registry.toml')).packages ?? {}) as Record<string, { name?: unknown; path?: unknown }>;
  const packages = new Map<string, { name: string; path: string }>();
  for (const [uuid, p] of Object.entries(listed))
    if (typeof p.name === 'string' && typeof p.path === 'string') packages.set(uuid, { name: p.name, path: p.path });
  const view = { withFiles, packages, files };
  if (views.size >= MAX_VIEWS) views.delete(views.keys().next().value!);
  views.set(tarball.sha256, view);
  return view;
}

/** The registries the upstream lists, as artifact keys. */
async function upstreamRegistries(ctx: ProxyContext): Promise<string[]> {
  const doc = await ctx.doc(REGISTRIES_DOC);
  return doc ? registryLines(doc.body).map((r) => `registry/${r.uuid}/${r.hash}`) : [];
}

/** The artifact tree hashes an Artifacts.toml names (plain `[name]` tables and platform `[[name]]` arrays). */
export function artifactHashes(toml: Toml): string[] {
  const out = new Set<string>();
  for (const entry of Object.values(toml)) {
    for (const e of Array.isArray(entry) ? entry : [entry]) {
      const h = (e as Toml | null)?.['git-tree-sha1'];
      if (typeof h === 'string' && TREE_HASH.test(h)) out.add(h);
    }
  }
  return [...out];
}

/**
 * Everything one package needs offline: its registry tarball, every version's package tarball
 * (yanked ones too: manifests that pin them must still install), the artifacts each version's
 * Artifacts.toml names, and the names of its dependencies (Deps.toml, every range).
 */
async function mirrorPackage(ctx: ProxyContext, pkg: string): Promise<MirrorPlan | null> {
  for (const key of await upstreamRegistries(ctx)) {
    const view = await registryView(ctx, key, true);
    if (!view) continue;
    const byUuid = view.packages.get(pkg.toLowerCase());
    const uuid = byUuid ? pkg.toLowerCase() : [...view.packages].find(([, p]) => p.name === pkg)?.[0];
    if (!uuid) continue;
    const path = view.packages.get(uuid)!.path;
    const versions = tomlOf(view.files.get(`${path}/Versions.toml`)) as Record<string, { 'git-tree-sha1'?: unknown }>;
    const artifacts = new Set<string>([key]);
    for (const v of Object.values(versions)) {
      const tree = v['git-tree-sha1'];
      if (typeof tree !== 'string' || !TREE_HASH.test(tree)) continue;
      const pkgKey = `package/${uuid}/${tree}`;
      artifacts.add(pkgKey);
      for (const a of await packageArtifacts(ctx, pkgKey)) artifacts.add(`artifact/${a}`);
    }
    const deps = new Set<string>();
    for (const range of Object.values(tomlOf(view.files.get(`${path}/Deps.toml`))))
      if (range && typeof range === 'object') for (const name of Object.keys(range)) deps.add(name);
    return { artifacts: [...artifacts], dependencies: [...deps].sort() };
  }
  return null;
}

/** The artifacts a package tarball's Artifacts.toml / JuliaArtifacts.toml names; none when it cannot be fetched (the mirror reports that key). */
async function packageArtifacts(ctx: ProxyContext, key: string): Promise<string[]> {
  let tarball;
  try {
    tarball = await ctx.artifact(key);
  } catch (err) {
    ctx.registry.log.warn({ repo: ctx.repo.name, key, err: (err as Error).message }, `mirror ${ctx.repo.name}: ${key} failed`);
    return [];
  }
  if (!tarball) return [];
  const files = await (
    await tarballs()
  ).readTarballFiles(
    tarball.blob.stream(),
    (p) => p === 'Artifacts.toml' || p === 'JuliaArtifacts.toml',
    maxTarSize(ctx.registry, 'package'),
  );
  return artifactHashes(tomlOf(files.get('JuliaArtifacts.toml') ?? files.get('Artifacts.toml')));
}

/** Every package name in the upstream's registries (Registry.toml `[packages]`). */
async function* listPackages(ctx: ProxyContext): AsyncIterable<string> {
  const seen = new Set<string>();
  for (const key of await upstreamRegistries(ctx)) {
    const view = await registryView(ctx, key, false);
    for (const { name } of view?.packages.values() ?? []) {
      if (seen.has(name)) continue;
      seen.add(name);
      yield name;
    }
  }
}

/** How a Julia proxy talks to an upstream Pkg server. */
export const juliaProxy: ProxyParts = {
  defaultUpstream: JULIA_DEFAULT_UPSTREAM,
  docUrl: (upstream, path) => (path === REGISTRIES_DOC ? `${upstream}/registries` : null),
  docLifetime: () => 'mutable',
  async artifactOrigin(ctx, key) {
    const t = parseTarballKey(key);
    if (!t || (t.kind !== 'artifact' && !UUID.test(t.uuid)) || !TREE_HASH.test(t.hash)) return null;
    const maxTar = maxTarSize(ctx.registry, t.kind);
    return {
      url: `${ctx.upstream}/${key}`,
      trusted: true,
      check: async (body) => (await tarballs()).checkTarballTree(body, t.kind, t.hash, maxTar),
      // Pkg servers answer zstd to clients that ask for it; Node can only inflate gzip to verify.
      headers: { 'accept-encoding': 'gzip' },
      what: t.kind === 'artifact' ? `artifact ${t.hash}` : `${t.kind} ${t.uuid} tree ${t.hash}`,
    };
  },
  // A Pkg server's one document is `/registries`, which describes no package: packages are described inside the
  // registry tarballs, which are artifacts (registrySearchEntries in search.ts reads one).
  searchEntry: () => null,
  mirrorPackage,
  listPackages,
};

/**
 * `/registries` of a group: one line per registry UUID (the first member listing it wins, hosted
 * members first), sorted by UUID, newline-terminated (protocols/julia.md §11.2 rule 6).
 */
export const juliaGroup: GroupParts = {
  mergeDoc(path, members) {
    if (path !== REGISTRIES_DOC) return undefined;
    const chosen = new Map<string, string>();
    for (const { doc } of members) for (const r of registryLines(doc.body)) if (!chosen.has(r.uuid)) chosen.set(r.uuid, r.hash);
    const lines = [...chosen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([u, h]) => `/registry/${u}/${h}\n`);
    return Buffer.from(lines.join(''));
  },
};
