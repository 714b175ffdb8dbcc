import type { RepoVerification } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { crateNameFromIndexPath, indexPath } from './names.js';
import type { CargoTables } from './schema.js';

/**
 * A Cargo repo is consistent when each crate's index file is exactly the lines of its versions
 * (in publish order), no index file exists without a crate, and each version's `.crate` blob is
 * the one its line's `cksum` names.
 */
export async function verifyCargoRepo(registry: Registry, repo: Repo): Promise<RepoVerification> {
  if (repo.kind === 'proxy') return verifyCargoProxy(registry, repo);
  const out: RepoVerification = { checked: {}, problems: [], references: [] };
  // A group holds nothing of its own: its members are verified as themselves.
  if (repo.kind !== 'hosted') return out;
  const db = registry.db.withTables<CargoTables>();
  const crates = await db.selectFrom('cargo_crates').select(['id', 'name']).where('repo_id', '=', repo.id).execute();
  const versions = await db
    .selectFrom('cargo_versions')
    .innerJoin('cargo_crates', 'cargo_crates.id', 'cargo_versions.crate_id')
    .select(['cargo_versions.crate_id', 'cargo_versions.vers', 'cargo_versions.line', 'cargo_versions.cksum', 'cargo_versions.size'])
    .where('cargo_crates.repo_id', '=', repo.id)
    .orderBy('cargo_versions.id')
    .execute();
  const docs = await db.selectFrom('index_docs').select(['path', 'body']).where('repo_id', '=', repo.id).execute();
  const byPath = new Map(docs.map((d) => [d.path, Buffer.from(d.body)]));
  const nameOf = new Map(crates.map((c) => [c.id, c.name]));
  const lines = new Map<number, string[]>();
  for (const v of versions) {
    lines.set(v.crate_id, [...(lines.get(v.crate_id) ?? []), v.line]);
    const cksum = (JSON.parse(v.line) as { cksum?: string }).cksum;
    if (cksum !== v.cksum)
      out.problems.push(`${nameOf.get(v.crate_id)}@${v.vers}: its index line says cksum ${cksum}, the database ${v.cksum}`);
    out.references.push({ sha256: v.cksum, size: v.size, what: `.crate of ${nameOf.get(v.crate_id)}@${v.vers}` });
  }
  const expectedPaths = new Set<string>();
  for (const crate of crates) {
    const p = indexPath(crate.name);
    expectedPaths.add(p);
    const want = (lines.get(crate.id) ?? []).map((l) => `${l}\n`).join('');
    const have = byPath.get(p);
    if (!have)
      out.problems.push(
        `index file ${p} of crate ${crate.name} is missing; republishing is not possible, restore the database from a backup`,
      );
    else if (have.toString('utf8') !== want)
      out.problems.push(
        `index file ${p} of crate ${crate.name} differs from its ${lines.get(crate.id)?.length ?? 0} version(s) in the database`,
      );
  }
  for (const d of docs) {
    if (crateNameFromIndexPath(d.path) && !expectedPaths.has(d.path))
      out.problems.push(`index file ${d.path} has no crate in the database`);
  }
  out.checked = { 'index files': crates.length, versions: versions.length };
  return out;
}

/** A proxy's index files are the upstream's bytes (no rows to compare); its cached `.crate` files must still be in the store. */
async function verifyCargoProxy(registry: Registry, repo: Repo): Promise<RepoVerification> {
  const rows = await registry.db.selectFrom('proxy_artifacts').select(['key', 'sha256', 'size']).where('repo_id', '=', repo.id).execute();
  return {
    checked: { 'cached crates': rows.length },
    problems: [],
    references: rows.map((r) => ({ sha256: r.sha256, size: Number(r.size), what: `.crate ${r.key} cached from the upstream` })),
  };
}
