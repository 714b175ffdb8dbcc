import type { RepoVerification } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { BazelTables } from './schema.js';

/**
 * A Bazel repo is consistent when every module version has its MODULE.bazel and source.json and
 * is listed in its module's metadata.json, and every archive Larder hosts exists as a blob whose
 * sha256 is the integrity its source.json pins.
 */
export async function verifyBazelRepo(registry: Registry, repo: Repo): Promise<RepoVerification> {
  const db = registry.db.withTables<BazelTables>();
  const out: RepoVerification = { checked: {}, problems: [], references: [] };
  const versions = await db.selectFrom('bazel_versions').select(['module', 'version']).where('repo_id', '=', repo.id).execute();
  const archives = await db
    .selectFrom('bazel_archives')
    .select(['module', 'version', 'file_name', 'sha256', 'size'])
    .where('repo_id', '=', repo.id)
    .execute();
  const docs = new Map(
    (await db.selectFrom('index_docs').select(['path', 'body']).where('repo_id', '=', repo.id).execute()).map((d) => [
      d.path,
      Buffer.from(d.body),
    ]),
  );
  const metadata = new Map<string, Set<string> | null>();
  for (const { module, version } of versions) {
    const dir = `modules/${module}/${version}`;
    for (const f of ['MODULE.bazel', 'source.json']) if (!docs.has(`${dir}/${f}`)) out.problems.push(`${dir}/${f} is missing`);
    if (!metadata.has(module)) metadata.set(module, listedVersions(docs.get(`modules/${module}/metadata.json`)));
    const listed = metadata.get(module);
    if (!listed) out.problems.push(`modules/${module}/metadata.json is missing or not valid JSON`);
    else if (!listed.has(version)) out.problems.push(`modules/${module}/metadata.json does not list version ${version}`);
  }
  for (const a of archives) {
    const dir = `modules/${a.module}/${a.version}`;
    out.references.push({ sha256: a.sha256, size: a.size, what: `archive ${a.file_name} of ${a.module}@${a.version}` });
    const source = parseJson(docs.get(`${dir}/source.json`)) as { url?: unknown; integrity?: unknown } | null;
    if (!source) continue; // reported above when missing
    const want = `sha256-${Buffer.from(a.sha256, 'hex').toString('base64')}`;
    if (typeof source.url !== 'string' || !source.url.endsWith(`/archives/${a.module}/${a.version}/${a.file_name}`)) {
      out.problems.push(`${dir}/source.json does not point at the hosted archive ${a.file_name}`);
    } else if (typeof source.integrity === 'string' && source.integrity.startsWith('sha256-') && source.integrity !== want) {
      out.problems.push(`${dir}/source.json pins ${source.integrity}, but the hosted archive ${a.file_name} is ${want}`);
    }
  }
  out.checked = { 'module versions': versions.length, 'hosted archives': archives.length };
  return out;
}

function parseJson(body: Buffer | undefined): unknown {
  if (!body) return null;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

function listedVersions(body: Buffer | undefined): Set<string> | null {
  const meta = parseJson(body) as { versions?: unknown } | null;
  return meta && Array.isArray(meta.versions) ? new Set(meta.versions.map(String)) : null;
}
