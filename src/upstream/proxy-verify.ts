import type { RepoVerification } from '../registry/format.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';

/**
 * `larder verify` for a proxy repo: every cached document's state row has its body, and every stored
 * artifact's blob is referenced (so it is re-hashed and gc keeps it).
 */
export async function verifyProxyRepo(registry: Registry, repo: Repo): Promise<RepoVerification> {
  const problems: string[] = [];
  const docs = await registry.db
    .selectFrom('proxy_docs')
    .leftJoin('index_docs', (j) =>
      j.onRef('index_docs.repo_id', '=', 'proxy_docs.repo_id').onRef('index_docs.path', '=', 'proxy_docs.path'),
    )
    .select(['proxy_docs.path', 'proxy_docs.status', 'index_docs.etag'])
    .where('proxy_docs.repo_id', '=', repo.id)
    .execute();
  for (const d of docs) {
    if (d.status === 200 && d.etag === null)
      problems.push(`cached document ${d.path} has no body; it is fetched again on the next request`);
  }
  const artifacts = await registry.db
    .selectFrom('proxy_artifacts')
    .select(['key', 'sha256', 'size'])
    .where('repo_id', '=', repo.id)
    .orderBy('key')
    .execute();
  return {
    checked: { 'cached documents': docs.length, 'cached artifacts': artifacts.length },
    problems,
    references: artifacts.map((a) => ({ sha256: a.sha256, size: Number(a.size), what: `cached artifact ${a.key}` })),
  };
}
