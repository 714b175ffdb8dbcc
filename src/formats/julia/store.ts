import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { fail, LarderError } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import { recordGitCommit } from '../../registry/git-history/record.js';
import { lockHistory } from '../../registry/git-history/state.js';
import { lockNamed } from '../../registry/locks.js';
import type { Repo } from '../../registry/repos.js';
import type { UnitOfWork } from '../../registry/tx.js';
import type { StagedBlob } from '../../storage/blobs.js';
import { REGISTRIES_DOC, registryDocPath, UUID } from './ids.js';
import type { JuliaTables } from './schema.js';
import { treeFileData } from './spool.js';
import { canonicalTar } from './tarball.js';
import { tarTreeHashes, treeHash, type FileTree } from './tree-hash.js';
import { storeBlob } from '../../registry/blob-records.js';

export { juliaDb, type JuliaDb } from './db.js';

/** A tarball staged in blob storage and the tree hash it was verified to have. */
export interface VerifiedTarball {
  treeHash: string;
  /** Commit it as the last step of the transaction that records it; discard it if that fails. */
  staged: StagedBlob;
}

/**
 * The canonical tarball of a tree, streamed into blob staging while the tar stream is checked the way
 * Pkg checks it (tar tree hash with empty directories kept): a tarball that would fail on every client
 * is never stored. Memory stays bounded and zlib runs off the event loop, whatever the tree's size.
 */
export async function verifiedTarball(registry: Registry, tree: FileTree): Promise<VerifiedTarball> {
  const expected = treeHash(tree);
  const tarStream = canonicalTar(tree);
  const toGzip = new PassThrough();
  const toHash = new PassThrough();
  const gz = createGzip({ level: 9 });
  const gzipping = pipeline(toGzip, gz);
  const staging = registry.blobs.stage(gz);
  const hashing = tarTreeHashes(toHash);
  const teeing = tee(tarStream, [toGzip, toHash]);
  const [teed, zipped, staged, hashed] = await Promise.allSettled([teeing, gzipping, staging, hashing]);
  const errors = [teed, hashed, zipped, staged].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length) {
    if (staged.status === 'fulfilled') await staged.value.discard();
    // The stage that failed first says why (a LarderError); the others failed because it did.
    throw errors.find((e) => e instanceof LarderError) ?? errors[0];
  }
  const stagedBlob = (staged as PromiseFulfilledResult<StagedBlob>).value;
  const { keepEmpty } = (hashed as PromiseFulfilledResult<{ keepEmpty: string }>).value;
  if (keepEmpty !== expected) {
    await stagedBlob.discard();
    fail('INTERNAL', `the tarball of tree ${expected} hashes to ${keepEmpty}`);
  }
  return { treeHash: expected, staged: stagedBlob };
}

/** Resolves when `out` wants more data; rejects if it fails or closes first (its reader gave up). */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', onDrain).off('error', done).off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the stream closed before taking all the data'));
    out.on('drain', onDrain).on('error', done).on('close', onClose);
  });
}

/** Copies `source` into every output, each chunk taken by all before the next is read; ends them all. */
async function tee(source: Readable, outs: Writable[]): Promise<void> {
  try {
    for await (const chunk of source) {
      await Promise.all(outs.map((o) => (o.destroyed ? drained(o) : o.write(chunk) ? undefined : drained(o))));
    }
    for (const o of outs) o.end();
  } catch (err) {
    for (const o of outs) o.destroy(err as Error);
    source.destroy();
    throw err;
  }
}

/** `name` and `uuid` of a registry tree, from its Registry.toml. */
export async function registryIdentity(tree: FileTree): Promise<{ name: string; uuid: string }> {
  const file = tree.get('Registry.toml');
  if (!file || file.kind === 'symlink') fail('METADATA_INVALID', 'the registry has no Registry.toml at its root');
  let toml: Record<string, unknown>;
  try {
    toml = parseToml((await treeFileData(file)).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    fail('METADATA_INVALID', `Registry.toml does not parse: ${(err as Error).message}`);
  }
  const { name, uuid } = toml;
  if (typeof name !== 'string' || !name) fail('METADATA_INVALID', 'Registry.toml needs name = "…"');
  if (typeof uuid !== 'string' || !UUID.test(uuid))
    fail('METADATA_INVALID', `Registry.toml uuid ${JSON.stringify(uuid)} is not a lower-case UUID`);
  return { name, uuid };
}

/**
 * Records a tarball's row and stores its blob as part of `uow` (storeBlob: committed right before the transaction).
 * A tree this repo already holds (an artifact sent again, a registry tree an unyank brings back) keeps the row and
 * blob it has — the tree hash is what clients verify, and another node's gzip may differ — and the new copy is
 * discarded; returns whether the row is new.
 */
export async function recordTarball(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  kind: 'registry' | 'package' | 'artifact',
  uuid: string,
  tarball: VerifiedTarball,
): Promise<boolean> {
  const { staged } = tarball;
  const trx = uow.trx.withTables<JuliaTables>();
  const now = Date.now();
  const inserted = await trx
    .insertInto('julia_tarballs')
    .values({ repo_id: repo.id, kind, uuid, tree_hash: tarball.treeHash, sha256: staged.sha256, size: staged.size, created_at: now })
    .onConflict((oc) => oc.columns(['repo_id', 'kind', 'uuid', 'tree_hash']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
    await staged.discard();
    return false;
  }
  await storeBlob(uow, staged);
  return true;
}

/**
 * The first step of every transaction that changes a registry's tree: one writer of a registry at a time on every
 * node, so no registration rewrites Registry.toml from a copy another one has changed meanwhile (and a retried
 * registration sees the first attempt it repeats), and the registry's
 * history rows are numbered in commit order (what keeps git commit ids equal on every node: git-history/build.ts).
 */
export async function lockRegistry(registry: Registry, uow: UnitOfWork, repo: Repo, uuid: string): Promise<void> {
  await lockHistory(uow.trx, registry.dialect, { repoId: repo.id, history: uuid });
}

/**
 * One writer at a time of the repo's list of registries (`/registries`, creation): taken after `lockRegistry` when
 * both are (narrow to wide), so writers of two registries never wait for each other in a cycle.
 */
export async function lockRegistryList(registry: Registry, uow: UnitOfWork, repo: Repo): Promise<void> {
  await lockNamed(uow.trx, registry.dialect, `julia-registries:${repo.id}`);
}

/** Records a change of a registry's tree, from which its git commits are derived (git-view.ts). */
export async function recordCommit(uow: UnitOfWork, repo: Repo, uuid: string, treeHash: string, message: string): Promise<void> {
  await recordGitCommit(uow.trx, { repoId: repo.id, history: uuid }, { tree: treeHash, message });
}

/** Rewrites the `/registries` listing from the registries table, inside `uow`. */
export async function rewriteRegistries(registry: Registry, uow: UnitOfWork, repo: Repo): Promise<void> {
  // Writes to two registries of a repo may run at once: each must list the other's tree as committed.
  await lockRegistryList(registry, uow, repo);
  const rows = await uow.trx
    .withTables<JuliaTables>()
    .selectFrom('julia_registries')
    .select(['uuid', 'tree_hash'])
    .where('repo_id', '=', repo.id)
    .orderBy('uuid')
    .execute();
  const body = rows.map((r) => `/registry/${r.uuid}/${r.tree_hash}\n`).join('');
  await registry.docs.put(uow, repo.id, REGISTRIES_DOC, Buffer.from(body));
}

/** Writes a registry's files as index documents (only those that changed) inside `uow`. */
export async function writeRegistryFiles(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  uuid: string,
  tree: FileTree,
  previous: Map<string, Buffer>,
  progress: (done: number, total: number) => void = () => {},
): Promise<void> {
  let done = 0;
  for (const [rel, file] of tree) {
    if (++done % 100 === 0 || done === tree.size) progress(done, tree.size);
    const data = await treeFileData(file);
    const before = previous.get(rel);
    if (before && before.equals(data)) continue;
    await registry.docs.put(uow, repo.id, registryDocPath(uuid, rel), data);
  }
  for (const rel of previous.keys()) if (!tree.has(rel)) await registry.docs.remove(uow, repo.id, registryDocPath(uuid, rel));
}

/** The stored files of a registry, read inside `uow` (for registration, which rewrites some of them). */
export async function readRegistryFiles(uow: UnitOfWork, repo: Repo, uuid: string): Promise<Map<string, Buffer>> {
  const prefix = registryDocPath(uuid, '');
  const rows = await uow.trx
    .selectFrom('index_docs')
    .select(['path', 'body'])
    .where('repo_id', '=', repo.id)
    .where('path', 'like', `${prefix}%`)
    .execute();
  return new Map(rows.map((r) => [r.path.slice(prefix.length), Buffer.from(r.body)]));
}
