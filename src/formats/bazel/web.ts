/**
 * Bazel's part of the web UI: a module page built from the registry files every Bazel registry has
 * (metadata.json, the version's MODULE.bazel and source.json), read through the repo's source so hosted, proxy
 * and group repos all get one; publish dates come from this repo's rows, which a proxy or group simply lacks.
 * Bazel carries no README, description or licence.
 */
import type { Kysely } from 'kysely';
import { LarderError } from '../../core/errors.js';
import type { DependencyView, PackageFact, PackageLink, PackageView, UsageSnippet, WebParts } from '../../registry/package-view.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Source, SourceDoc } from '../../registry/source.js';
import type { Database } from '../../storage/schema.js';
import { bazelRegistrySetup, bazelRegistryUrl } from './client-setup.js';
import { readModuleFile, type ModuleDecl } from './module-file.js';
import { latestInstallable, maintainerNames, newestFirst, readModuleSummary, repositoryUrl, type ModuleSummary } from './module-summary.js';
import type { BazelTables } from './schema.js';
import { isModuleSegment, isVersionSegment, metadataPath, moduleFilePath } from './search-entry.js';

/**
 * A document the page can do without: an upstream that fails for it (502/504 with nothing held) leaves that part
 * of the page out instead of failing the whole page.
 */
async function optionalDoc(source: Source, path: string): Promise<SourceDoc | null> {
  try {
    return await source.doc(path);
  } catch (err) {
    if (err instanceof LarderError) return null;
    throw err;
  }
}

/** When each version arrived in this repo (published or imported); a proxy or group has no rows. */
async function arrivalTimes(registry: Registry, repo: Repo, module: string): Promise<Map<string, number>> {
  const db = registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;
  const rows = await db
    .selectFrom('bazel_versions')
    .select(['version', 'created_at'])
    .where('repo_id', '=', repo.id)
    .where('module', '=', module)
    .execute();
  return new Map(rows.map((r) => [r.version, Number(r.created_at)]));
}

/** The module a MODULE.bazel declares, or null when this reader cannot follow it (Bazel evaluates it itself). */
function declaration(doc: SourceDoc | null): ModuleDecl | null {
  if (!doc) return null;
  try {
    return readModuleFile(doc.body.toString('utf8'));
  } catch (err) {
    if (err instanceof LarderError) return null;
    throw err;
  }
}

/**
 * The `bazel_dep`s of the version, normal ones before dev ones; a dependency links to its page when this repo has
 * the module (one cached metadata.json lookup each, made together).
 */
async function dependencies(source: Source, decl: ModuleDecl | null): Promise<DependencyView[]> {
  const deps = [...(decl?.deps ?? [])].sort((a, b) => Number(a.devDependency) - Number(b.devDependency));
  const names = [...new Set(deps.map((d) => d.name))];
  const held = new Set<string>();
  await Promise.all(
    names.map(async (name) => {
      if (!isModuleSegment(name)) return;
      const peeked = source.peek(metadataPath(name));
      const doc = peeked === undefined ? await optionalDoc(source, metadataPath(name)) : peeked;
      if (doc) held.add(name);
    }),
  );
  return deps.map((d) => ({
    name: d.name,
    requirement: d.version === '' ? null : d.version,
    kind: d.devDependency ? 'dev' : null,
    package: held.has(d.name) ? d.name : null,
  }));
}

/** What source.json says about where the code comes from, as facts and links. */
function sourceFacts(doc: SourceDoc | null): { facts: PackageFact[]; links: PackageLink[] } {
  const facts: PackageFact[] = [];
  const links: PackageLink[] = [];
  let json: unknown;
  try {
    json = doc ? JSON.parse(doc.body.toString('utf8')) : null;
  } catch {
    return { facts, links };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { facts, links };
  const s = json as Record<string, unknown>;
  const str = (k: string) => (typeof s[k] === 'string' ? (s[k] as string) : null);
  const type = str('type') ?? 'archive';
  if (type === 'archive') {
    if (str('url')) facts.push({ label: 'Source archive', value: str('url')! });
    if (str('integrity')) facts.push({ label: 'Integrity', value: str('integrity')! });
    if (str('strip_prefix')) facts.push({ label: 'strip_prefix', value: str('strip_prefix')! });
  } else if (type === 'git_repository') {
    const at = str('commit') ?? str('tag');
    if (str('remote')) facts.push({ label: 'Source', value: `git ${str('remote')}${at ? ` @ ${at}` : ''}` });
  } else {
    facts.push({ label: 'Source type', value: type });
  }
  if (str('docs_url')) links.push({ label: 'Documentation', url: str('docs_url')! });
  return { facts, links };
}

/** The homepage and repository entries that are web addresses. */
function moduleLinks(summary: ModuleSummary): PackageLink[] {
  const links: PackageLink[] = summary.homepage ? [{ label: 'Homepage', url: summary.homepage }] : [];
  for (const entry of summary.repository) {
    const url = repositoryUrl(entry);
    if (url && !links.some((l) => l.url === url)) links.push({ label: 'Repository', url });
  }
  return links;
}

/** Bazel's web parts. */
export const bazelWebParts: WebParts = {
  async packageView({ registry, repo, source }, module, version) {
    if (!isModuleSegment(module)) return null;
    const metadata = await source.doc(metadataPath(module));
    const summary = metadata ? readModuleSummary(metadata.body) : null;
    if (!summary) return null;
    const listed = newestFirst(summary.versions);
    const latest = latestInstallable(summary);
    const shown = version ?? latest ?? listed[0];
    if (shown === undefined || !isVersionSegment(module, shown)) return null;
    const [moduleFile, sourceJson, arrived] = await Promise.all([
      optionalDoc(source, moduleFilePath(module, shown)),
      optionalDoc(source, `modules/${module}/${shown}/source.json`),
      arrivalTimes(registry, repo, module),
    ]);
    // Bazel resolves version directories metadata.json does not list (the BCR has some), so those have pages too.
    if (!listed.includes(shown) && !moduleFile) return null;
    const decl = declaration(moduleFile);
    const origin = sourceFacts(sourceJson);
    const facts: PackageFact[] = [];
    if (decl) facts.push({ label: 'compatibility_level', value: String(decl.compatibilityLevel) });
    if (decl?.bazelCompatibility.length) facts.push({ label: 'bazel_compatibility', value: decl.bazelCompatibility.join(', ') });
    const maintainers = maintainerNames(summary);
    if (maintainers.length) facts.push({ label: 'Maintainers', value: maintainers.join(', ') });
    facts.push(...origin.facts);
    const view: PackageView = {
      package: module,
      name: module,
      version: shown,
      latest,
      // metadata.json has no description; a deprecation is what a user must read first.
      description: summary.deprecated ? `Deprecated: ${summary.deprecated}` : null,
      license: null,
      keywords: [],
      links: [...moduleLinks(summary), ...origin.links],
      versions: listed.map((v) => ({
        version: v,
        publishedAt: arrived.get(v) ?? null,
        yanked: summary.yanked.has(v),
        yankReason: summary.yanked.get(v) || null,
      })),
      dependencies: await dependencies(source, decl),
      facts,
    };
    return view;
  },

  usage(repo, baseUrl, view): UsageSnippet[] {
    const url = bazelRegistryUrl(baseUrl, repo);
    const setup = bazelRegistrySetup(repo, url);
    const yanked = view.versions.find((v) => v.version === view.version)?.yanked;
    const dep: UsageSnippet = { label: 'MODULE.bazel', code: `bazel_dep(name = "${view.name}", version = "${view.version}")` };
    if (yanked) {
      dep.note =
        `${view.version} is yanked: Bazel refuses it unless you add --allow_yanked_versions=${view.name}@${view.version}` +
        (view.latest ? `; ${view.latest} is the latest version.` : '.');
    }
    return [dep, { label: '.bazelrc', code: setup.lines.join('\n'), note: setup.notes.join(' ') }];
  },
};
