/**
 * Where a hosted MoonBit repo keeps its modules: `moonbit_versions` rows, the index files as
 * documents (`user/<module>.index`, `yanked.json`), and every change as a commit of the repo's git
 * history `index` (branch `main`), all in the write's transaction.
 */
import type { Kysely } from 'kysely';
import { fail } from '../../core/errors.js';
import type { Database } from '../../storage/schema.js';
import { recordGitCommit, type GitHistoryRef } from '../../registry/git-history/record.js';
import { lockHistory } from '../../registry/git-history/state.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import type { UnitOfWork } from '../../registry/tx.js';
import { storeBlob } from '../../registry/blob-records.js';
import { putReadme } from '../../registry/readmes.js';
import type { StagedBlob } from '../../storage/blobs.js';
import { findVersionLine, findVersionLineText } from './index-line.js';
import { indexPath } from './names.js';
import { updateSearchEntry } from './search.js';

export interface MoonbitVersionsTable {
  repo_id: number;
  module: string;
  version: string;
  checksum: string;
  size: number | null;
  description: string | null;
  published_at: number;
  published_by: number | null;
  yanked: number;
  yanked_reason: string | null;
  yanked_at: number | null;
}

export type MoonbitTables = { moonbit_versions: MoonbitVersionsTable };

/** The database with MoonBit's tables. */
export function moonbitDb(registry: Registry) {
  return registry.db.withTables<MoonbitTables>();
}

/** The name of the git history every MoonBit repo serves at `git/index`. */
export const INDEX_HISTORY = 'index';
/** The branch moon clones and pulls (§3.1). */
export const INDEX_BRANCH = 'main';

/** A repo's index history. */
export function indexHistory(repo: Repo): GitHistoryRef {
  return { repoId: repo.id, history: INDEX_HISTORY };
}

/** A version to append to a hosted repo. */
export interface NewModuleVersion {
  module: string;
  version: string;
  /** The index line without its newline: the manifest plus `checksum`, as published. */
  line: Buffer;
  /** The zip, staged; its sha256 is the line's checksum. */
  staged: StagedBlob;
  description: string | null;
  publishedBy: number | null;
  /** The zip's README (Markdown), when it has one: kept for the web UI. */
  readme?: string | null;
}

/**
 * Refuses (VERSION_EXISTS, 409, in the words mooncakes.io uses) a version that has a row or a line in the
 * module's index file (an import keeps lines without rows; moon reads lines): never a second line (trap 8).
 */
export function refuseTakenVersion(hasRow: boolean, indexFile: Uint8Array | null, module: string, version: string): void {
  if (hasRow || (indexFile && findVersionLine(indexFile, version)))
    fail(
      'VERSION_EXISTS',
      `Version Error: The version you are attempting to upload (${version}) is duplicated with an existing version of ${module}; publish a new version`,
    );
}

/**
 * Whether the repo holds exactly the version a publish of `line` would write (a retried publish): its row
 * with the zip's sha256 as checksum, and that line, byte for byte, as the version's line in the module's
 * index file. moon's index line is the manifest plus the checksum, with no time or other field of the
 * moment it was written, so the same zip gives the same line; a yank since changes neither (yanked.json).
 */
export function holdsVersion(
  row: { checksum: string } | undefined,
  indexFile: Uint8Array | null,
  published: { version: string; checksum: string; line: Buffer },
): boolean {
  if (!row || !indexFile || row.checksum !== published.checksum) return false;
  return findVersionLineText(indexFile, published.version)?.text === published.line.toString('utf8');
}

/** A version's row (its zip's sha256 is `checksum`), read through `db` — the pool, or a transaction. */
export async function versionRow(
  db: Kysely<Database>,
  repo: Repo,
  module: string,
  version: string,
): Promise<{ checksum: string } | undefined> {
  return db
    .withTables<MoonbitTables>()
    .selectFrom('moonbit_versions')
    .select('checksum')
    .where('repo_id', '=', repo.id)
    .where('module', '=', module)
    .where('version', '=', version)
    .executeTakeFirst();
}

/** A module's index file as committed, never from the document cache (which another node's publish may not have reached yet). */
export async function committedIndexFile(db: Kysely<Database>, repo: Repo, module: string): Promise<Buffer | null> {
  const row = await db
    .selectFrom('index_docs')
    .select('body')
    .where('repo_id', '=', repo.id)
    .where('path', '=', indexPath(module))
    .executeTakeFirst();
  return row ? Buffer.from(row.body) : null;
}

/**
 * Appends one version inside the caller's transaction: the zip's blob, its row, one more line of
 * the module's index file, its README, the module's search entry, and one commit. Publishes of a repo are serialised (the history lock), so
 * a line is never lost or written twice; an existing version is VERSION_EXISTS (409), unless it is exactly this one
 * (a retry of a publish that committed): then nothing is written and false is returned.
 */
export async function appendVersion(uow: UnitOfWork, registry: Registry, repo: Repo, v: NewModuleVersion): Promise<boolean> {
  const trx = uow.trx.withTables<MoonbitTables>();
  await lockHistory(uow.trx, registry.dialect, indexHistory(repo));
  const path = indexPath(v.module);
  const before = (await registry.docs.read(uow, repo.id, path)) ?? Buffer.alloc(0);
  const existing = await versionRow(uow.trx, repo, v.module, v.version);
  if (holdsVersion(existing, before, { version: v.version, checksum: v.staged.sha256, line: v.line })) return false;
  refuseTakenVersion(existing !== undefined, before, v.module, v.version);
  const body = Buffer.concat([before, v.line, Buffer.from('\n')]);
  await registry.docs.put(uow, repo.id, path, body);
  await storeBlob(uow, v.staged);
  await trx
    .insertInto('moonbit_versions')
    .values({
      repo_id: repo.id,
      module: v.module,
      version: v.version,
      checksum: v.staged.sha256,
      size: v.staged.size,
      description: v.description,
      published_at: Date.now(),
      published_by: v.publishedBy,
      yanked: 0,
      yanked_reason: null,
      yanked_at: null,
    })
    .execute();
  if (v.readme) await putReadme(uow.trx, { repoId: repo.id, package: v.module, version: v.version, markdown: v.readme });
  await updateSearchEntry(uow, registry, repo, v.module);
  await recordGitCommit(uow.trx, indexHistory(repo), { message: `Publish ${v.module}@${v.version}`, changes: [{ path, data: body }] });
  return true;
}

/**
 * Writes whole index files (an import, `yanked.json`) inside the caller's transaction and records
 * them as one commit. Files equal to what the repo holds are left out; nothing new, no commit.
 */
export async function writeIndexFiles(
  uow: UnitOfWork,
  registry: Registry,
  repo: Repo,
  files: Array<{ path: string; body: Buffer }>,
  message: string,
): Promise<number> {
  await lockHistory(uow.trx, registry.dialect, indexHistory(repo));
  const changes = [];
  for (const f of files) {
    const before = await registry.docs.read(uow, repo.id, f.path);
    if (before?.equals(f.body)) continue;
    await registry.docs.put(uow, repo.id, f.path, f.body);
    changes.push({ path: f.path, data: f.body });
  }
  if (changes.length > 0) await recordGitCommit(uow.trx, indexHistory(repo), { message, changes });
  return changes.length;
}
