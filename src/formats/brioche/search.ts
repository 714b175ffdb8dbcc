/**
 * Brioche projects in the shared search (registry/search). A project is searchable while it has a tag; its entry
 * describes the tag brioche resolves (`latest`, §2.2), shown under the version tag `brioche publish` set beside it
 * (the same project hash), with what that project's files say (project-info.ts).
 */
import type { ProxySearchEntry } from '../../registry/source-parts.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { removeSearchEntry, upsertSearchEntry } from '../../registry/search/index.js';
import type { UnitOfWork } from '../../registry/tx.js';
import { HASH, parseTagPath } from './keys.js';
import type { ProjectInfo } from './project-info.js';
import type { BriocheTables } from './store.js';

/** The tag brioche resolves a dependency to: the only version spec is `*` (§2.2). */
export const LATEST = 'latest';

/** A current tag of a project. */
export interface CurrentTag {
  tag: string;
  projectHash: string;
  /** Milliseconds since the epoch, when known (hosted rows). */
  setAt: number | null;
}

/** Newest first: by when the tag was set (unknown last), `latest` before the tags set with it, then tags in descending order. */
export function newestFirst(a: CurrentTag, b: CurrentTag): number {
  return (
    (b.setAt ?? -1) - (a.setAt ?? -1) ||
    Number(b.tag === LATEST) - Number(a.tag === LATEST) ||
    b.tag.localeCompare(a.tag, 'en', { numeric: true })
  );
}

/**
 * The tag a project is listed under and the version to show for it: `latest` as the version tag sharing its
 * project hash (`1.7.1`, as brioche publish sets both), else `latest` itself; a project without `latest` by its
 * newest tag. Null without tags.
 */
export function headOf(tags: readonly CurrentTag[]): { head: CurrentTag; version: string } | null {
  const sorted = [...tags].sort(newestFirst);
  const head = sorted.find((t) => t.tag === LATEST) ?? sorted[0];
  if (!head) return null;
  const twin = head.tag === LATEST ? sorted.find((t) => t.tag !== LATEST && t.projectHash === head.projectHash) : undefined;
  return { head, version: (twin ?? head).tag };
}

/** The current tags of some projects of a repo, read inside the writing transaction. */
async function currentTags(uow: UnitOfWork, repo: Pick<Repo, 'id'>, projects: string[]): Promise<Map<string, CurrentTag[]>> {
  const rows = await uow.trx
    .withTables<BriocheTables>()
    .selectFrom('brioche_tags')
    .select(['project', 'tag', 'project_hash', 'set_at'])
    .where('repo_id', '=', repo.id)
    .where('project', 'in', projects)
    .where('current', '=', 1)
    .execute();
  const out = new Map<string, CurrentTag[]>(projects.map((p) => [p, []]));
  for (const r of rows) out.get(r.project)?.push({ tag: r.tag, projectHash: r.project_hash, setAt: Number(r.set_at) });
  return out;
}

/**
 * Brings the search entries of `projects` up to date inside the tag transaction: name, the head tag's version, and
 * what its project says (`infoOf`, read before the transaction; null leaves description and dependencies empty).
 */
export async function updateSearchEntries(
  uow: UnitOfWork,
  registry: Registry,
  repo: Pick<Repo, 'id' | 'format'>,
  projects: string[],
  infoOf: (projectHash: string) => ProjectInfo | null,
): Promise<void> {
  if (projects.length === 0) return;
  for (const [project, tags] of await currentTags(uow, repo, projects)) {
    const ref = { repoId: repo.id, package: project };
    const listed = headOf(tags);
    if (!listed) {
      await removeSearchEntry(uow.trx, registry.dialect, ref);
      continue;
    }
    const info = infoOf(listed.head.projectHash);
    await upsertSearchEntry(uow.trx, registry.dialect, {
      ...ref,
      format: repo.format,
      name: project,
      description: info?.description ?? null,
      keywords: info?.keywords ?? [],
      latestVersion: listed.version,
      updatedAt: Math.max(...tags.map((t) => t.setAt ?? 0)),
      dependencies: (info?.dependencies ?? []).map((d) => d.name),
    });
  }
}

/**
 * What a proxy records for a tag it fetched: the project under its `latest` tag (the one brioche asks for). The body
 * holds only a hash, so version, description and dependencies stay unknown here; other tags say nothing new.
 */
export function proxySearchEntry(path: string, body: Buffer): ProxySearchEntry | null {
  const t = parseTagPath(path);
  if (!t || t.tag !== LATEST) return null;
  try {
    const hash = (JSON.parse(body.toString('utf8')) as { projectHash?: unknown }).projectHash;
    if (typeof hash !== 'string' || !HASH.test(hash)) return null;
  } catch {
    return null;
  }
  return { package: t.project, name: t.project, latestVersion: LATEST };
}
