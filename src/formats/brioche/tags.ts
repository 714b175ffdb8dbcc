/**
 * Tags of a hosted Brioche repo (protocols/brioche.md §2.3): mutable pointers with history. Every
 * value a tag ever had stays a row of `brioche_tags` (the current one has current = 1); the tag's
 * document `tags/<project>/<tag>` is rewritten in the same transaction, so reads are a lookup.
 */
import { sql } from 'kysely';
import { fail } from '../../core/errors.js';
import { audit } from '../../registry/audit.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { authorizeWrite, type PackageRef } from '../../registry/owners.js';
import { putReadme, removeReadme } from '../../registry/readmes.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { Source } from '../../registry/source.js';
import { inTransaction } from '../../registry/tx.js';
import { HASH, isProjectName, isTag, projectSourceKey, tagBody, tagPath } from './keys.js';
import { projectInfos, type ProjectInfo } from './project-info.js';
import { LATEST, updateSearchEntries } from './search.js';
import { briocheDb, projectTagged, type BriocheTables } from './store.js';

/** One tag of a `POST v0/project-tags` body. */
export interface TagUpdate {
  projectName: string;
  tag: string;
  projectHash: string;
}

/** One entry of the answer: a tag that was inserted or moved, and where it pointed before. */
export interface ChangedTag {
  name: string;
  tag: string;
  previousHash: string | null;
}

/** Who sets tags: a Larder token, or the repo's own password (an admin of this repo, with no user). */
export type TagWriter = { kind: 'token'; p: Principal } | { kind: 'password' };

/** More tags than any publish sends (brioche sends `latest` and the version); a bound on one transaction. */
const MAX_TAGS = 1000;

/** The package a project is to ownership: its name, as brioche spells it. */
export function projectRef(repo: Pick<Repo, 'id' | 'name' | 'format'>, project: string): PackageRef {
  return { repo, id: project, display: project, label: `project ${project}` };
}

/** Reads and checks a `POST v0/project-tags` body; `includesCycles` is accepted and ignored, as the reference server does. */
export function parseTagUpdates(body: unknown): TagUpdate[] {
  const tags = (body as { tags?: unknown } | null)?.tags;
  if (typeof body !== 'object' || body === null || !Array.isArray(tags))
    fail('BODY_MALFORMED', 'the body must be JSON {"tags":[{"projectName","tag","projectHash"}, …]}');
  if (tags.length > MAX_TAGS) fail('METADATA_INVALID', `at most ${MAX_TAGS} tags per request (got ${tags.length})`);
  return tags.map((t: unknown, i) => {
    const { projectName, tag, projectHash } = (t ?? {}) as Record<string, unknown>;
    if (typeof projectName !== 'string' || typeof tag !== 'string' || typeof projectHash !== 'string')
      fail('BODY_MALFORMED', `tags[${i}] must be {"projectName": string, "tag": string, "projectHash": string}`);
    if (!isProjectName(projectName))
      fail('NAME_INVALID', `tags[${i}]: invalid project name "${projectName}": use letters, digits, '_', '-' and '.', at most 128`);
    if (!isTag(tag)) fail('NAME_INVALID', `tags[${i}]: invalid tag "${tag}": use letters, digits, '_', '-', '.' and '+', at most 128`);
    if (!HASH.test(projectHash)) fail('METADATA_INVALID', `tags[${i}]: projectHash must be 64 lower-case hex digits (a BLAKE3 hash)`);
    return { projectName, tag, projectHash };
  });
}

/**
 * Sets tags as `brioche publish` asks, in one transaction: a tag pointing elsewhere becomes history
 * and a new current row records the move; an unchanged tag is left alone and not listed. Every
 * project must have its `projects/<hash>/source.json` in `source` (this repo's cache) first. The
 * moved projects' search entries and the READMEs of moved tags change in the same transaction.
 */
export async function setTags(registry: Registry, source: Source, writer: TagWriter, updates: TagUpdate[]): Promise<ChangedTag[]> {
  const repo = source.repo;
  const projects = [...new Set(updates.map((u) => u.projectName))];
  if (writer.kind === 'token') for (const project of projects) requirePermission(writer.p, 'publish', repo.name, project);
  for (const hash of new Set(updates.map((u) => u.projectHash))) {
    if (!(await source.artifact(projectSourceKey(hash))))
      fail(
        'METADATA_INVALID',
        `project ${hash} is not in this repository's cache: upload ${projectSourceKey(hash)} (and its artifact) first, as brioche publish does through the S3 endpoint`,
      );
  }
  // What the projects say (search entries, READMEs) is read from the cache before the transaction: every hash set
  // here and each project's current `latest`, which its search entry describes when this request leaves it alone.
  const hashes = new Set([...updates.map((u) => u.projectHash), ...(await latestHashes(registry, repo, projects))]);
  const infos = new Map<string, ProjectInfo | null>();
  // A tag is set right after its project was uploaded, maybe through another node: an absence noted before is asked again.
  for (const hash of hashes) infos.set(hash, await projectInfos(registry).get(source, hash, { recheck: true }));
  return inTransaction(registry, async (uow) => {
    const trx = uow.trx;
    // Tag moves are read-modify-write: on PostgreSQL, one writer of this repo's tags at a time
    // (SQLite write transactions are serial already).
    if (registry.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`brioche-tags:${repo.id}`}))`.execute(trx);
    const db = trx.withTables<BriocheTables>();
    if (writer.kind === 'token') {
      for (const project of projects) {
        await authorizeWrite(trx, registry.dialect, writer.p, projectRef(repo, project), await projectTagged(trx, repo, project));
      }
    }
    const changed: ChangedTag[] = [];
    const moves: Array<ChangedTag & { projectHash: string }> = [];
    const setBy = writer.kind === 'token' ? writer.p.userId : null;
    // One time for the request: `latest` and the version tag brioche publish sends together were set together.
    const setAt = Date.now();
    for (const u of updates) {
      const current = () =>
        db
          .selectFrom('brioche_tags')
          .select(['id', 'project_hash'])
          .where('repo_id', '=', repo.id)
          .where('project', '=', u.projectName)
          .where('tag', '=', u.tag)
          .where('current', '=', 1)
          .executeTakeFirst();
      const before = await current();
      if (before?.project_hash === u.projectHash) continue;
      if (before) await db.updateTable('brioche_tags').set({ current: 0 }).where('id', '=', before.id).execute();
      await db
        .insertInto('brioche_tags')
        .values({
          repo_id: repo.id,
          project: u.projectName,
          tag: u.tag,
          project_hash: u.projectHash,
          previous_hash: before?.project_hash ?? null,
          current: 1,
          set_at: setAt,
          set_by: setBy,
        })
        .execute();
      await registry.docs.put(uow, repo.id, tagPath(u.projectName, u.tag), tagBody(u.projectHash));
      // The reference server re-reads the row and fails the request when it is not what was asked.
      if ((await current())?.project_hash !== u.projectHash) fail('INTERNAL', `tag ${u.projectName}:${u.tag} did not take its new value`);
      changed.push({ name: u.projectName, tag: u.tag, previousHash: before?.project_hash ?? null });
      moves.push({ ...changed[changed.length - 1]!, projectHash: u.projectHash });
    }
    for (const m of moves) {
      const readme = infos.get(m.projectHash)?.readme;
      const ref = { repoId: repo.id, package: m.name, version: m.tag };
      if (readme) await putReadme(trx, { ...ref, markdown: readme });
      else await removeReadme(trx, ref);
    }
    await updateSearchEntries(uow, registry, repo, [...new Set(moves.map((m) => m.name))], (hash) => infos.get(hash) ?? null);
    if (changed.length > 0) {
      await audit(trx, {
        userId: setBy,
        repoId: repo.id,
        action: 'brioche.tags',
        subject: projects.join(', '),
        detail: { via: writer.kind, tags: moves },
      });
    }
    return changed;
  });
}

/** The project hashes the `latest` tags of some projects point to now (read outside the transaction: a hint). */
async function latestHashes(registry: Registry, repo: Pick<Repo, 'id'>, projects: string[]): Promise<string[]> {
  if (projects.length === 0) return [];
  const rows = await briocheDb(registry)
    .selectFrom('brioche_tags')
    .select('project_hash')
    .where('repo_id', '=', repo.id)
    .where('project', 'in', projects)
    .where('tag', '=', LATEST)
    .where('current', '=', 1)
    .execute();
  return rows.map((r) => r.project_hash);
}

/** One value a tag had: when it was set, by whom, and the hash it replaced. */
export interface TagHistoryEntry {
  projectHash: string;
  previousHash: string | null;
  current: boolean;
  setAt: string;
  /** The user whose token set it; null when the repo password did. */
  setBy: string | null;
  via: 'token' | 'password';
}

/** Every value a tag of this repo had, newest first (empty when this repo never set it). */
export async function tagHistory(registry: Registry, repo: Pick<Repo, 'id'>, project: string, tag: string): Promise<TagHistoryEntry[]> {
  const rows = await briocheDb(registry)
    .selectFrom('brioche_tags')
    .leftJoin('users', 'users.id', 'brioche_tags.set_by')
    .select([
      'brioche_tags.project_hash',
      'brioche_tags.previous_hash',
      'brioche_tags.current',
      'brioche_tags.set_at',
      'brioche_tags.set_by',
      'users.login',
    ])
    .where('brioche_tags.repo_id', '=', repo.id)
    .where('brioche_tags.project', '=', project)
    .where('brioche_tags.tag', '=', tag)
    .orderBy('brioche_tags.id', 'desc')
    .execute();
  return rows.map((r) => ({
    projectHash: r.project_hash,
    previousHash: r.previous_hash,
    current: Number(r.current) === 1,
    setAt: new Date(Number(r.set_at)).toISOString(),
    setBy: r.login ?? null,
    via: r.set_by == null ? 'password' : 'token',
  }));
}
