import { createGunzip } from 'node:zlib';
import type { RepoVerification } from '../../registry/format.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { REGISTRIES_DOC, registryDocPath } from './ids.js';
import { juliaDb } from './db.js';
import { tarTreeHashes, treeHash, type FileTree } from './tree-hash.js';

/**
 * A Julia repo is consistent when each registry's files (index documents) hash to the tree the
 * database records, `/registries` lists exactly the registries, and every tarball's bytes unpack
 * to the tree hash it is served under (what Pkg checks on download).
 */
export async function verifyJuliaRepo(registry: Registry, repo: Repo): Promise<RepoVerification> {
  const db = juliaDb(registry);
  const out: RepoVerification = { checked: {}, problems: [], references: [] };
  const registries = await db
    .selectFrom('julia_registries')
    .select(['uuid', 'name', 'tree_hash'])
    .where('repo_id', '=', repo.id)
    .orderBy('uuid')
    .execute();
  const docs = await db.selectFrom('index_docs').select(['path', 'body']).where('repo_id', '=', repo.id).execute();
  const listing = docs.find((d) => d.path === REGISTRIES_DOC);
  const wantListing = registries.map((r) => `/registry/${r.uuid}/${r.tree_hash}\n`).join('');
  if (registries.length && (!listing || Buffer.from(listing.body).toString('utf8') !== wantListing))
    out.problems.push(`the /registries listing differs from the ${registries.length} registr(ies) in the database`);
  for (const r of registries) {
    const prefix = registryDocPath(r.uuid, '');
    const tree: FileTree = new Map();
    for (const d of docs) if (d.path.startsWith(prefix)) tree.set(d.path.slice(prefix.length), { kind: 'file', data: Buffer.from(d.body) });
    const actual = treeHash(tree);
    if (actual !== r.tree_hash)
      out.problems.push(`registry ${r.name} (${r.uuid}): its ${tree.size} files hash to tree ${actual}, the database says ${r.tree_hash}`);
  }
  const tarballs = await db
    .selectFrom('julia_tarballs')
    .select(['kind', 'uuid', 'tree_hash', 'sha256', 'size'])
    .where('repo_id', '=', repo.id)
    .execute();
  for (const t of tarballs) {
    const what = `${t.kind} tarball ${t.uuid ? `${t.uuid}/` : ''}${t.tree_hash}`;
    out.references.push({ sha256: t.sha256, size: t.size, what });
    const blob = await registry.blobs.open(t.sha256);
    if (!blob) continue; // reported through the reference
    try {
      const source = blob.stream();
      const gunzip = createGunzip();
      source.on('error', (err) => gunzip.destroy(err));
      const { keepEmpty, skipEmpty } = await tarTreeHashes(source.pipe(gunzip));
      if (keepEmpty !== t.tree_hash && skipEmpty !== t.tree_hash)
        out.problems.push(`${what} unpacks to tree ${keepEmpty}, not the tree hash it is served under`);
    } catch (err) {
      out.problems.push(`${what} does not unpack: ${(err as Error).message}`);
    }
  }
  out.checked = { registries: registries.length, tarballs: tarballs.length };
  return out;
}
