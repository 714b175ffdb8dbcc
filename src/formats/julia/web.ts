/**
 * Julia's package pages (issue 12): a package by UUID as the registries its repo serves describe it
 * (served-registries.ts: hosted, proxy and group repos alike), with what hosted rows add — when each version
 * was registered and why one was yanked — and the lines that make Pkg install it from this server.
 */
import type { DependencyView, PackageFact, PackageLink, PackageView, UsageSnippet, WebParts } from '../../registry/package-view.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { juliaAuthFile, juliaServerExport, juliaServerUrl } from './client-setup.js';
import { UUID } from './ids.js';
import { dependenciesOf, juliaCompatOf, packageAcross, type JuliaPackage, type RegistryReader } from './package-info.js';
import type { JuliaTables } from './schema.js';
import { servedRegistries } from './served-registries.js';
import { STDLIBS } from './stdlibs.js';

/** The UUID a page names: a UUID, or a name exactly one registry here gives a single UUID. */
function uuidOf(registries: readonly RegistryReader[], pkg: string): string | null {
  if (UUID.test(pkg)) return pkg;
  const found = new Set(registries.flatMap((r) => [...r.packages].filter(([, p]) => p.name === pkg).map(([uuid]) => uuid)));
  return found.size === 1 ? [...found][0]! : null;
}

/** The repos whose rows describe what a repo serves: itself, or a group's members (recursively). */
function rowRepoIds(registry: Registry, repo: Repo, seen = new Set<string>()): number[] {
  seen.add(repo.name);
  const members = (repo.members ?? []).flatMap((name) => {
    const member = registry.repos.get(name);
    return member && !seen.has(name) ? rowRepoIds(registry, member, seen) : [];
  });
  return [repo.id, ...members];
}

/** When each tree of the package was stored and why versions were yanked, from hosted rows (a proxy has none). */
async function hostedFacts(registry: Registry, repoIds: number[], pkg: JuliaPackage) {
  const db = registry.db.withTables<JuliaTables>();
  const [trees, reasons] = await Promise.all([
    db
      .selectFrom('julia_tarballs')
      .select(['tree_hash', 'created_at'])
      .where('repo_id', 'in', repoIds)
      .where('kind', '=', 'package')
      .where('uuid', '=', pkg.uuid)
      .execute(),
    db
      .selectFrom('julia_yank_reasons')
      .select(['version', 'reason'])
      .where('repo_id', 'in', repoIds)
      .where('registry_uuid', '=', pkg.registry.uuid)
      .where('package_uuid', '=', pkg.uuid)
      .execute(),
  ]);
  const storedAt = new Map<string, number>();
  for (const t of trees) storedAt.set(t.tree_hash, Math.min(storedAt.get(t.tree_hash) ?? Infinity, Number(t.created_at)));
  return { storedAt, reasons: new Map(reasons.map((r) => [r.version, r.reason])) };
}

/** The URL Larder writes into Package.toml for an uploaded package (`{base}/{repo}/packages/{Name}.jl.git`) names nothing a browser can open. */
function isPlaceholderRepo(url: string, repo: Repo, name: string): boolean {
  return url.endsWith(`/${repo.name}/packages/${name}.jl.git`);
}

function factsOf(pkg: JuliaPackage, version: string): PackageFact[] {
  const facts: PackageFact[] = [{ label: 'UUID', value: pkg.uuid }];
  const julia = juliaCompatOf(pkg, version);
  if (julia) facts.push({ label: 'Julia', value: julia });
  facts.push({ label: 'Registry', value: `${pkg.registry.name} (${pkg.registry.uuid})` });
  const tree = pkg.versions.find((v) => v.version === version)?.treeSha1;
  if (tree) facts.push({ label: 'Tree SHA-1', value: tree });
  if (pkg.subdir) facts.push({ label: 'Subdirectory', value: pkg.subdir });
  if (pkg.deprecated) {
    const { reason, alternative } = pkg.deprecated;
    facts.push({
      label: 'Deprecated',
      value: [reason ?? 'yes', alternative && `use ${alternative} instead`].filter(Boolean).join('; '),
    });
  }
  return facts;
}

/** Julia's part of the web UI. */
export const juliaWeb: WebParts = {
  async packageView({ registry, repo, source }, pkg, version) {
    const registries = await servedRegistries(registry, source);
    const uuid = uuidOf(registries, pkg);
    const info = uuid && (await packageAcross(registries, uuid));
    if (!info) return null;
    const shown = version ?? info.latest ?? info.versions[0]?.version;
    if (shown === undefined || !info.versions.some((v) => v.version === shown)) return null;

    const { storedAt, reasons } = await hostedFacts(registry, rowRepoIds(registry, repo), info);
    const held = new Set(registries.flatMap((r) => [...r.packages.keys()]));
    const dependencies: DependencyView[] = dependenciesOf(info, shown).map((d) => ({
      name: d.name,
      requirement: d.compat,
      kind: d.weak ? 'weak' : STDLIBS[d.name] === d.uuid ? 'stdlib' : null,
      package: held.has(d.uuid) ? d.uuid : null,
    }));
    const links: PackageLink[] =
      info.repo && !isPlaceholderRepo(info.repo, repo, info.name) ? [{ label: 'Repository', url: info.repo }] : [];
    return {
      package: info.uuid,
      name: info.name,
      version: shown,
      latest: info.latest,
      description: null,
      license: null,
      keywords: [],
      links,
      versions: info.versions.map((v) => ({
        version: v.version,
        publishedAt: (v.treeSha1 === null ? undefined : storedAt.get(v.treeSha1)) ?? null,
        yanked: v.yanked,
        yankReason: v.yanked ? (reasons.get(v.version) ?? null) : null,
      })),
      dependencies,
      facts: factsOf(info, shown),
    } satisfies PackageView;
  },

  usage(repo, baseUrl, view) {
    const url = juliaServerUrl(repo, baseUrl);
    const shown = view.versions.find((v) => v.version === view.version);
    const add = view.version === view.latest ? `Pkg.add("${view.name}")` : `Pkg.add(name="${view.name}", version="${view.version}")`;
    const snippets: UsageSnippet[] = [
      {
        label: 'Shell',
        code: juliaServerExport(url),
        note: 'Before starting julia (or in your shell profile): Pkg then installs and updates every registry this server lists.',
      },
    ];
    if (repo.visibility === 'private')
      snippets.push({
        label: juliaAuthFile(url),
        code: 'access_token = "<token>"',
        note: 'A Larder token that may read this repository; Pkg sends it only over https or to localhost.',
      });
    snippets.push({
      label: 'Julia REPL',
      code: `using Pkg\nPkg.Registry.add()\n${add}`,
      note: shown?.yanked
        ? `${view.version} is yanked: Pkg installs it only where a Manifest already pins it.`
        : 'Pkg.Registry.add() adds the registries of this server that your depot does not have yet.',
    });
    return snippets;
  },
};
