/**
 * Brioche's package pages (issue 12). A package is a project name; its versions are its tags (`latest`, `1.7.1`),
 * each a document `tags/<project>/<tag>` read through the repo's source, so hosted, proxy and group repos all have
 * pages. Which tags exist is known from the documents the repo (or a group's members) holds, plus `latest` and the
 * version its project declares; hosted tag rows add when each was set and the hash it replaced. What a project
 * says of itself (version, links, dependencies) comes from its artifact (project-info.ts).
 */
import { sql } from 'kysely';
import type { DependencyView, PackageFact, PackageView, UsageSnippet, VersionView, WebParts } from '../../registry/package-view.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Source } from '../../registry/source.js';
import { configLines, PRIVATE_PASSWORD, s3Env } from './client-setup.js';
import { HASH, isProjectName, isTag, tagPath } from './keys.js';
import { projectInfos, withDeadline, type ProjectInfo } from './project-info.js';
import { LATEST, newestFirst, type CurrentTag } from './search.js';
import { briocheDb } from './store.js';

/** How long a page waits for a project's artifact (a proxy may be fetching it); later views find it kept. */
const INFO_DEADLINE_MS = 5_000;
/** Tags listed on a page at most (a project tags each version; more is a script gone wrong). */
const MAX_TAGS = 500;

/** The repos whose documents a repo's source serves: itself and a group's members (recursively). */
function servingRepos(registry: Registry, repo: Repo, seen = new Set<string>()): Repo[] {
  seen.add(repo.name);
  const members = (repo.members ?? []).flatMap((name) => {
    const member = registry.repos.get(name);
    return member && !seen.has(name) ? servingRepos(registry, member, seen) : [];
  });
  return [repo, ...members];
}

/** A hosted tag row: when the current value was set, and the hash it replaced. */
interface TagRow {
  projectHash: string;
  setAt: number;
  previousHash: string | null;
}

/** The tag names these repos hold documents for, and their hosted rows by tag. */
async function knownTags(registry: Registry, repos: Repo[], project: string): Promise<{ names: string[]; rows: Map<string, TagRow[]> }> {
  const ids = repos.map((r) => r.id);
  const prefix = `tags/${project}/`;
  const [docs, rows] = await Promise.all([
    registry.db
      .selectFrom('index_docs')
      .select('path')
      .where('repo_id', 'in', ids)
      .where(sql<boolean>`path like ${`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`)
      .limit(MAX_TAGS)
      .execute(),
    briocheDb(registry)
      .selectFrom('brioche_tags')
      .select(['tag', 'project_hash', 'set_at', 'previous_hash'])
      .where('repo_id', 'in', ids)
      .where('project', '=', project)
      .where('current', '=', 1)
      .execute(),
  ]);
  const byTag = new Map<string, TagRow[]>();
  for (const r of rows) {
    const list = byTag.get(r.tag) ?? [];
    list.push({ projectHash: r.project_hash, setAt: Number(r.set_at), previousHash: r.previous_hash });
    byTag.set(r.tag, list);
  }
  return { names: docs.map((d) => d.path.slice(prefix.length)).filter(isTag), rows: byTag };
}

/** The project hash a tag document names, or null. */
async function tagHash(source: Source, project: string, tag: string): Promise<string | null> {
  const doc = await source.doc(tagPath(project, tag)).catch(() => null);
  if (!doc) return null;
  try {
    const hash = (JSON.parse(doc.body.toString('utf8')) as { projectHash?: unknown }).projectHash;
    return typeof hash === 'string' && HASH.test(hash) ? hash : null;
  } catch {
    return null;
  }
}

const info = (registry: Registry, source: Source, hash: string): Promise<ProjectInfo | null> =>
  withDeadline(projectInfos(registry).get(source, hash), INFO_DEADLINE_MS);

/** A valid JavaScript identifier for a project name (`foo-bar` → `foo_bar`), for the import line. */
function identifier(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

/** A key of an object literal: bare when it is an identifier, quoted otherwise. */
const objectKey = (name: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name));

async function packageView(
  { registry, repo, source }: { registry: Registry; repo: Repo; source: Source },
  project: string,
  version?: string,
): Promise<PackageView | null> {
  if (!isProjectName(project) || (version !== undefined && !isTag(version))) return null;
  const { names, rows } = await knownTags(registry, servingRepos(registry, repo), project);
  const tags = new Map<string, CurrentTag>();
  const add = async (tag: string) => {
    if (tags.has(tag)) return;
    const hash = await tagHash(source, project, tag);
    // Hosted rows date a tag only when the source serves the value they record (a group's member may differ).
    if (hash) tags.set(tag, { tag, projectHash: hash, setAt: rows.get(tag)?.find((r) => r.projectHash === hash)?.setAt ?? null });
  };
  await Promise.all([...new Set([LATEST, ...names, ...(version ? [version] : [])])].map(add));
  const latest = tags.get(LATEST);
  const latestInfo = latest ? await info(registry, source, latest.projectHash) : null;
  // The version tag brioche publish sets beside `latest`: a proxy knows it only once someone asks for it.
  if (latestInfo?.version && isTag(latestInfo.version)) await add(latestInfo.version);
  if (tags.size === 0) return null;

  const ordered = [...tags.values()].sort(newestFirst);
  const shown = version === undefined ? (latest ?? ordered[0]!) : tags.get(version);
  if (!shown) return null;
  const shownInfo = shown.projectHash === latest?.projectHash ? latestInfo : await info(registry, source, shown.projectHash);
  const dependencies: DependencyView[] = await Promise.all(
    (shownInfo?.dependencies ?? []).map(async (d) => ({
      ...d,
      // Linked when this repo serves a project of that name.
      package: (await tagHash(source, d.name, LATEST)) ? d.name : null,
    })),
  );
  const row = rows.get(shown.tag)?.find((r) => r.projectHash === shown.projectHash);
  const twins = ordered.filter((t) => t.tag !== shown.tag && t.projectHash === shown.projectHash).map((t) => t.tag);
  const facts: PackageFact[] = [
    { label: 'Project hash', value: shown.projectHash },
    ...(twins.length ? [{ label: 'Also tagged', value: twins.join(', ') }] : []),
    ...(row?.previousHash ? [{ label: 'Previous project hash', value: row.previousHash }] : []),
    ...(shownInfo?.version && shownInfo.version !== shown.tag ? [{ label: 'Project version', value: shownInfo.version }] : []),
    ...(shownInfo ? [{ label: 'Artifact', value: shownInfo.artifactHash }] : []),
  ];
  const versions: VersionView[] = ordered.map((t) => ({ version: t.tag, publishedAt: t.setAt, yanked: false, yankReason: null }));
  return {
    package: project,
    name: project,
    version: shown.tag,
    latest: latest ? LATEST : null,
    description: shownInfo?.description ?? null,
    license: shownInfo?.license ?? null,
    keywords: shownInfo?.keywords ?? [],
    links: shownInfo?.links ?? [],
    versions,
    dependencies,
    facts,
  };
}

/**
 * What a user pastes to depend on the project from this repo: the dependency in project.bri (brioche resolves `*`
 * to `latest` and pins the hash in brioche.lock), the lockfile line that pins another tag's project, the install
 * command, and the config that points brioche at this repo (client-setup.ts, read-only: using needs no writes).
 */
function usage(repo: Repo, baseUrl: string, view: PackageView): UsageSnippet[] {
  const name = view.name;
  const hash = view.facts.find((f) => f.label === 'Project hash')?.value;
  const isLatest = view.version === view.latest;
  const snippets: UsageSnippet[] = [
    {
      label: 'project.bri',
      code: `import * as ${identifier(name)} from "${name}";\n\nexport const project = {\n  dependencies: {\n    ${objectKey(name)}: "*",\n  },\n};`,
      note: isLatest
        ? 'brioche resolves "*" to the latest tag and pins its project hash in brioche.lock.'
        : `"*" resolves to the latest tag; to build against ${view.version}, pin its project in brioche.lock (below).`,
    },
  ];
  if (!isLatest && hash)
    snippets.push({
      label: 'brioche.lock',
      code: `"${name}": "${hash}"`,
      note: `An entry of "dependencies" in brioche.lock: brioche takes a locked dependency before asking the registry.`,
    });
  if (isLatest) snippets.push({ label: 'Shell', code: `brioche install -r ${name}` });
  snippets.push({
    label: '~/.config/brioche/config.toml',
    code: configLines(repo, baseUrl, { write: false }).join('\n'),
    note: 'Keep the trailing "/" of registry_url. To publish here, see the setup `larder serve` prints (write_url and S3 keys).',
  });
  if (repo.visibility === 'private')
    snippets.push({
      label: 'Shell (private repository)',
      code: `${PRIVATE_PASSWORD}\n${s3Env(baseUrl, '<read key id>')}`,
      note: 'brioche sends these on every request; the key pair comes from `larder token create --s3 --scopes read`.',
    });
  return snippets;
}

/** Brioche's part of the web UI. */
export const briocheWeb: WebParts = { packageView, usage };
