/**
 * MoonBit's package pages (issue 12): a module read from its `.index` file and `yanked.json` through the repo's
 * source, so hosted, proxied and grouped modules all have pages; hosted rows add publish dates where the lines
 * carry none (mooncakes.io's lines have `created_at`). The snippets are what mooncakes.io offers: `moon add`
 * and the moon.mod.json dependency, with the registry setup of client-setup.ts.
 */
import type { DependencyView, PackageFact, PackageLink, PackageView, UsageSnippet, WebParts } from '../../registry/package-view.js';
import type { Source } from '../../registry/source.js';
import { moonRegistry, PRIVATE_REPO_NOTE } from './client-setup.js';
import type { DepSpec, IndexLine } from './index-line.js';
import { keywordsOf, latestInstallable, parseYanked, readModule, type CatalogueVersion } from './module-versions.js';
import { indexPath, parseModuleName, YANKED_PATH } from './names.js';
import { moonbitDb } from './store.js';

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** A `deps` / `bin-deps` value as the page shows it: the version asked for, or where a git or path dependency points. */
function dependencyOf(name: string, spec: DepSpec, bin: boolean): Omit<DependencyView, 'package'> & { registry: boolean } {
  const kinds = bin ? ['bin'] : [];
  if (typeof spec === 'string') return { name, requirement: spec, kind: kinds[0] ?? null, registry: true };
  const o = (spec && typeof spec === 'object' ? spec : {}) as Record<string, unknown>;
  const version = text(o.version);
  let requirement = version;
  if (typeof o.git === 'string') {
    kinds.push('git');
    requirement = `${o.git}${typeof o.branch === 'string' ? ` (${o.branch})` : ''}${version ? ` ${version}` : ''}`;
  } else if (typeof o.path === 'string') {
    kinds.push('path');
    requirement = o.path;
  }
  return { name, requirement, kind: kinds.length ? kinds.join(', ') : null, registry: kinds.every((k) => k === 'bin') };
}

/** The dependencies of a version's line, registry ones linked when this repo serves them (one cached lookup each). */
async function dependenciesOf(source: Source, line: IndexLine): Promise<DependencyView[]> {
  const listed: Array<ReturnType<typeof dependencyOf>> = [];
  for (const [field, bin] of [
    ['deps', false],
    ['bin-deps', true],
  ] as const) {
    const deps = line[field];
    if (deps && typeof deps === 'object' && !Array.isArray(deps))
      for (const [name, spec] of Object.entries(deps as Record<string, DepSpec>)) listed.push(dependencyOf(name, spec, bin));
  }
  return Promise.all(
    listed.map(async ({ registry, ...d }) => {
      // A lookup that fails (an upstream down) only leaves the name unlinked.
      const here = registry && parseModuleName(d.name) ? await source.doc(indexPath(d.name)).catch(() => null) : null;
      return { ...d, package: here ? d.name : null };
    }),
  );
}

/** When a version was published: Larder's own publish time, else the line's `created_at` (upstream and imported lines), else the import time. */
function publishedAt(v: CatalogueVersion, row: { published_at: number; published_by: number | null } | undefined): number | null {
  if (row && row.published_by !== null) return Number(row.published_at);
  const created = typeof v.line.created_at === 'string' ? Date.parse(v.line.created_at) : NaN;
  if (Number.isFinite(created)) return created;
  return row ? Number(row.published_at) : null;
}

/** Identity facts of a version: the checksum moon verifies the zip against, the target it prefers. */
function factsOf(line: IndexLine): PackageFact[] {
  const facts: PackageFact[] = [];
  const checksum = text(line.checksum);
  if (checksum) facts.push({ label: 'Checksum (SHA-256)', value: checksum });
  const target = text(line['preferred-target']);
  if (target) facts.push({ label: 'Preferred target', value: target });
  return facts;
}

/** A shell word: left bare when it is plain, else single-quoted. */
function shellWord(s: string): string {
  return /^[\w./@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export const moonbitWeb: WebParts = {
  async packageView({ registry, repo, source }, pkg, version) {
    if (!parseModuleName(pkg)) return null;
    const [doc, yanked] = await Promise.all([source.doc(indexPath(pkg)), source.doc(YANKED_PATH)]);
    const m = doc ? readModule(pkg, doc.body, parseYanked(yanked?.body)) : null;
    if (!m) return null;
    const latest = latestInstallable(m);
    const shown = version === undefined ? (latest ?? m.latest) : m.versions.find((v) => v.version === version);
    if (!shown) return null;
    // Hosted rows (none for a proxy or a group): publish times.
    const rows = await moonbitDb(registry)
      .selectFrom('moonbit_versions')
      .select(['version', 'published_at', 'published_by'])
      .where('repo_id', '=', repo.id)
      .where('module', '=', pkg)
      .execute();
    const byVersion = new Map(rows.map((r) => [r.version, r]));
    const { line } = shown;
    const repository = text(line.repository);
    const links: PackageLink[] = repository ? [{ label: 'Repository', url: repository }] : [];
    return {
      package: pkg,
      name: pkg,
      version: shown.version,
      latest: latest?.version ?? null,
      description: text(line.description),
      license: text(line.license),
      keywords: keywordsOf(line).filter((k) => k.trim() !== ''),
      links,
      versions: [...m.versions].reverse().map((v) => ({
        version: v.version,
        publishedAt: publishedAt(v, byVersion.get(v.version)),
        yanked: v.yanked,
        yankReason: v.yankedReason,
      })),
      dependencies: await dependenciesOf(source, line),
      facts: factsOf(line),
    } satisfies PackageView;
  },

  usage(repo, baseUrl, view): UsageSnippet[] {
    const { env, config } = moonRegistry(repo, baseUrl);
    const privateNote = repo.visibility === 'private' ? ` This repository is ${PRIVATE_REPO_NOTE.join(' ')}.` : '';
    return [
      {
        label: 'Shell',
        code: `${env}\nmoon add ${shellWord(`${view.package}@${view.version}`)}`,
        note: `moon add updates the index, then adds the dependency to moon.mod.json.${privateNote}`,
      },
      {
        label: 'moon.mod.json',
        code: `"deps": {\n  ${JSON.stringify(view.package)}: ${JSON.stringify(view.version)}\n}`,
        note: 'Or by hand: merge this into the "deps" of moon.mod.json, with MOONCAKES_REGISTRY set as above.',
      },
      {
        label: '$MOON_HOME/config.json',
        code: JSON.stringify(config, null, 2),
        note: 'Instead of MOONCAKES_REGISTRY (~/.moon/config.json): while this file exists, moon ignores MOONCAKES_REGISTRY.',
      },
    ];
  },
};
