import type { RepoVerification } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { parseTagPath, tagBody, tagPath } from './keys.js';
import { briocheDb } from './store.js';

/**
 * A Brioche repo is consistent when every current tag row has its document (`tags/<project>/<tag>`,
 * the registry's answer) with the row's hash, no document names a tag without a current row, and
 * every cache object's blob is the one its row names (`larder verify` re-hashes those).
 */
export async function verifyBriocheRepo(registry: Registry, repo: Repo): Promise<RepoVerification> {
  const db = briocheDb(registry);
  const out: RepoVerification = { checked: {}, problems: [], references: [] };
  const objects = await db.selectFrom('brioche_objects').select(['key', 'sha256', 'size']).where('repo_id', '=', repo.id).execute();
  for (const o of objects) out.references.push({ sha256: o.sha256, size: Number(o.size), what: `cache object ${o.key}` });
  const tags = await db
    .selectFrom('brioche_tags')
    .select(['project', 'tag', 'project_hash'])
    .where('repo_id', '=', repo.id)
    .where('current', '=', 1)
    .execute();
  const docs = await db.selectFrom('index_docs').select(['path', 'body']).where('repo_id', '=', repo.id).execute();
  const byPath = new Map(docs.map((d) => [d.path, Buffer.from(d.body)]));
  const current = new Set<string>();
  for (const t of tags) {
    const path = tagPath(t.project, t.tag);
    current.add(path);
    const body = byPath.get(path);
    if (!body) out.problems.push(`tag ${t.project}:${t.tag}: its document ${path} is missing; restore the database from a backup`);
    else if (!body.equals(tagBody(t.project_hash)))
      out.problems.push(`tag ${t.project}:${t.tag}: its document ${path} does not name ${t.project_hash}, the hash its row holds`);
  }
  for (const path of byPath.keys())
    if (parseTagPath(path) && !current.has(path)) out.problems.push(`document ${path} names a tag that has no current row`);
  out.checked = { 'cache objects': objects.length, tags: tags.length };
  return out;
}
