import fs from 'node:fs';
import path from 'node:path';
import type { Insertable, Kysely } from 'kysely';
import { fail } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import { MultiRowStatement, perDialect } from '../../storage/multi-row.js';
import type { Database } from '../../storage/schema.js';
import { classifyRegistryPath, type RegistryFile } from './paths.js';
import type { BazelTables } from './schema.js';
import { REGISTRY_JSON } from './registry-json.js';
import { writeModuleSearchEntries } from './search-entry.js';
import { listTree, statKey, TreeReader, type TreeBatch, type TreeFile } from './tree-reader.js';

export interface ImportSummary {
  added: number;
  changed: number;
  unchanged: number;
  /** Files in the tree that are not registry files (README, tools/, .git, …). */
  ignored: number;
  versions: number;
}

export type ImportProgress = (done: number, total: number) => void;

/** Files written per transaction (whole modules at a time, so a module's search entry is made from its files in memory). */
const BATCH = 500;

/** `module\nversion` of a version's MODULE.bazel, or null for any other file. */
function versionOf(file: RegistryFile): string | null {
  return file.kind === 'version-file' && file.name === 'MODULE.bazel' ? `${file.module}\n${file.version}` : null;
}

/** Module directories from which the reader's thread lists a share of them while this one lists the rest. */
const SPLIT_LISTING_AT = 64;

/**
 * Registry files below `root` (bazel_registry.json and modules/**), relative, sorted by path (code units), and the
 * module versions they hold (`module\nversion` of each MODULE.bazel). A large modules/ is listed on two threads: the
 * reader's lists the last module directories while this one lists the first (~20k directories in the BCR).
 */
async function registryFiles(root: string, reader: TreeReader): Promise<{ files: string[]; versions: Set<string>; ignored: number }> {
  const files: string[] = [];
  const versions = new Set<string>();
  let ignored = 0;
  const take = (rel: string, kind: string) => {
    if (kind === 'l')
      fail(
        'ARCHIVE_INVALID',
        `${rel} is a symbolic link; a registry serves no links (static hosts do not follow them): replace it with the file`,
      );
    const file = kind === 'f' ? classifyRegistryPath(rel) : null;
    if (!file) {
      ignored++;
      return;
    }
    files.push(rel);
    const version = versionOf(file);
    if (version !== null) versions.add(version);
  };
  const takeAll = (pairs: string[]) => {
    for (let i = 0; i < pairs.length; i += 2) take(pairs[i], pairs[i + 1]);
  };
  const dir = `${root.replace(/\/+$/, '')}/`;
  const sorted = (rel: string) =>
    fs.readdirSync(dir + rel, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const kindOf = (e: fs.Dirent) => (e.isSymbolicLink() ? 'l' : e.isFile() ? 'f' : 'o');
  for (const top of sorted('')) {
    if (!top.isDirectory()) take(top.name, kindOf(top));
    else if (top.name !== 'modules') ignored++;
    else {
      const entries = sorted('modules');
      const dirs = entries.filter((e) => e.isDirectory());
      // The reader's share: the last 60% (this thread also classifies every path the two list).
      const theirs = dirs.length >= SPLIT_LISTING_AT ? dirs.slice(Math.ceil(dirs.length * 0.4)) : [];
      const listed = theirs.length ? reader.list(theirs.map((e) => `modules/${e.name}`)) : null;
      listed?.catch(() => {});
      const mine = new Set(dirs.slice(0, dirs.length - theirs.length));
      let lists: string[][] | null = null;
      let next = 0;
      for (const e of entries) {
        if (!e.isDirectory()) take(`modules/${e.name}`, kindOf(e));
        else if (mine.has(e)) {
          const out: string[] = [];
          listTree(fs, dir, `modules/${e.name}`, out);
          takeAll(out);
        } else takeAll((lists ??= await listed!)[next++]);
      }
    }
  }
  return { files, versions, ignored };
}

/** Files written in one transaction: whole modules, with the module versions whose MODULE.bazel they hold. */
interface Batch {
  paths: string[];
  modules: Set<string>;
  versions: string[];
}

/**
 * The module of a path `registryFiles` gave (so classified already: `modules/<module>/…` or bazel_registry.json, '' for
 * it), and the `module\nversion` of a version's MODULE.bazel: plain string work, the walk did the checks.
 */
function moduleOfPath(rel: string): string {
  return rel === REGISTRY_JSON ? '' : rel.slice(8, rel.indexOf('/', 8));
}

function versionOfPath(rel: string): string | null {
  if (!rel.endsWith('/MODULE.bazel')) return null;
  const a = rel.indexOf('/', 8);
  const b = rel.indexOf('/', a + 1);
  return b === rel.length - '/MODULE.bazel'.length ? `${rel.slice(8, a)}\n${rel.slice(a + 1, b)}` : null;
}

/** `files` (sorted, from `registryFiles`) cut into batches of about `size` files that never split a module. */
function moduleBatches(files: string[], size: number): Batch[] {
  const batches: Batch[] = [];
  let current: Batch = { paths: [], modules: new Set(), versions: [] };
  let module: string | null = null;
  for (const rel of files) {
    const m = moduleOfPath(rel);
    if (current.paths.length >= size && m !== module) {
      batches.push(current);
      current = { paths: [], modules: new Set(), versions: [] };
    }
    current.paths.push(rel);
    if (m !== '') current.modules.add(m);
    const version = versionOfPath(rel);
    if (version !== null) current.versions.push(version);
    module = m;
  }
  if (current.paths.length) batches.push(current);
  return batches;
}

/** Each batch's files as the reader gives them, the next batch asked for before the current one is handed out. */
async function* readAhead(reader: TreeReader, batches: string[][]): AsyncGenerator<TreeBatch> {
  let next = batches.length ? reader.read(batches[0]) : null;
  for (let i = 0; next; i++) {
    const current = next;
    next = i + 1 < batches.length ? reader.read(batches[i + 1]) : null;
    // A read that fails while the previous batch is being written is reported when its turn comes.
    next?.catch(() => {});
    yield await current;
  }
}

/**
 * Loads an index registry tree (a BCR clone, a company's registry repo) into a hosted repo
 * byte for byte. Only new and changed files are written; a changed file that lockfiles pin
 * (anything but metadata.json) is refused, because every user's build would break on it.
 * Files are read a batch at a time and hashed once, on a thread of their own (tree-reader.ts) while the batch before is
 * written; memory holds a few batches, not the tree. A file whose stat is the one its document was imported from is not
 * read at all.
 */
export async function importBazelTree(
  registry: Registry,
  repo: Repo,
  root: string,
  progress: ImportProgress = () => {},
): Promise<ImportSummary> {
  if (!fs.existsSync(path.join(root, 'modules')) && !fs.existsSync(path.join(root, 'bazel_registry.json'))) {
    fail('NOT_FOUND', `${root} has neither bazel_registry.json nor modules/: is it the root of an index registry?`);
  }
  const reader = new TreeReader(root);
  try {
    return await importFiles(registry, repo, root, reader, progress);
  } finally {
    await reader.close();
  }
}

/** `importBazelTree` with the tree's reader (closed by the caller). */
async function importFiles(
  registry: Registry,
  repo: Repo,
  root: string,
  reader: TreeReader,
  progress: ImportProgress,
): Promise<ImportSummary> {
  const db = registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;
  const { files, versions, ignored } = await registryFiles(root, reader);
  const docs = await registry.docs.importStats(repo.id);
  const existing = new Map([...docs].map(([p, d]) => [p, d.etag]));
  const known = new Set(
    (await db.selectFrom('bazel_versions').select(['module', 'version']).where('repo_id', '=', repo.id).execute()).map(
      (r) => `${r.module}\n${r.version}`,
    ),
  );
  const hadVersions = known.size > 0;
  // Nothing but the generated bazel_registry.json served yet: other processes hold nothing of this repo worth keeping,
  // so each batch is announced as the whole repo rather than path by path.
  const fresh = [...existing.keys()].every((p) => p === REGISTRY_JSON);
  // First pass, over the files already served only: what would change. Nothing is written if a pinned file would.
  // A file not served yet cannot be refused, so a fresh import skips this pass.
  const changed = new Map<string, TreeFile>();
  const refused: string[] = [];
  let unchanged = 0;
  // A file with the stat its document was imported with is that document: not read again. The others are read and
  // compared; those found unchanged get their stat recorded for next time.
  const served = files.filter((rel) => {
    const doc = docs.get(rel);
    if (!doc) return false;
    if (doc.importStat !== null && doc.importStat === statKey(fs.statSync(path.join(root, rel), { bigint: true }))) {
      unchanged++;
      return false;
    }
    return true;
  });
  const restat: Array<{ path: string; etag: string; importStat: string }> = [];
  const servedBatches: string[][] = [];
  for (let i = 0; i < served.length; i += BATCH) servedBatches.push(served.slice(i, i + BATCH));
  for await (const batch of readAhead(reader, servedBatches)) {
    for (const f of batch.files) {
      const before = existing.get(f.rel);
      if (before === f.etag) {
        unchanged++;
        restat.push({ path: f.rel, etag: f.etag, importStat: f.stat });
      } else {
        const kind = classifyRegistryPath(f.rel)!.kind;
        // A fresh repo's generated bazel_registry.json may be replaced by the imported one.
        if (kind !== 'metadata' && !(kind === 'registry-json' && !hadVersions)) refused.push(f.rel);
        // Held until written: only changed metadata.json (and bazel_registry.json) get this far without a refusal. A
        // copy of its own, not a view that would keep its whole batch alive.
        else changed.set(f.rel, { ...f, body: Buffer.from(f.body) });
      }
    }
    batch.release();
    progress(0, files.length);
  }
  if (refused.length) {
    fail(
      'VERSION_EXISTS',
      `these files are already served with other bytes, and lockfiles pin them: ${refused.slice(0, 10).join(', ')}${refused.length > 10 ? ` and ${refused.length - 10} more` : ''}; publish a new version instead of changing one`,
    );
  }

  const missing = new Set([...versions].filter((v) => !known.has(v)));
  const writes = files.filter((rel) => !existing.has(rel) || changed.has(rel));
  const batches = moduleBatches(writes, BATCH);
  let done = unchanged;
  progress(done, files.length);
  let b = 0;
  // Files read on the reader's thread while the batch before them is written; changed files read in the first pass
  // are not read again.
  for await (const read of readAhead(
    reader,
    batches.map((batch) => batch.paths.filter((rel) => !changed.has(rel))),
  )) {
    const { paths, modules, versions: batchVersions } = batches[b++];
    // The reader gives the files asked for in order: the batch's paths but those read in the first pass.
    let next = 0;
    const batch = paths.map((rel) => changed.get(rel) ?? read.files[next++]);
    const bodies = new Map(batch.map((f) => [f.rel, f.body]));
    const added = batchVersions.filter((v) => missing.has(v));
    await inTransaction(registry, async (uow) => {
      await registry.docs.putMany(
        uow,
        repo.id,
        batch.map((f) => ({ path: f.rel, body: f.body, etag: f.etag, importStat: f.stat })),
        { wholeRepo: fresh },
      );
      await insertVersions(registry, uow.trx.withTables<BazelTables>(), repo, added);
      // Modules whose files changed get their search entry rewritten (unchanged ones keep theirs, and their place in
      // the recently-changed list), from the files in memory where the batch holds them.
      await writeModuleSearchEntries(registry, uow, repo, modules, (p) => bodies.get(p));
    });
    // Written (the database copied the bytes): the buffer goes back to the reader.
    read.release();
    for (const v of added) missing.delete(v);
    done += batch.length;
    progress(done, files.length);
  }
  // Versions whose files were all served already but that have no row (an import stopped between its transactions).
  if (missing.size) await inTransaction(registry, (uow) => insertVersions(registry, uow.trx.withTables<BazelTables>(), repo, [...missing]));
  for (let i = 0; i < restat.length; i += BATCH) {
    await inTransaction(registry, (uow) => registry.docs.setImportStats(uow, repo.id, restat.slice(i, i + BATCH)));
  }
  const added = writes.filter((rel) => !existing.has(rel)).length;
  return { added, changed: writes.length - added, unchanged, ignored, versions: versions.size };
}

/** Records module versions (`module\nversion` keys) in multi-row statements. */
async function insertVersions(registry: Registry, trx: Kysely<Database & BazelTables>, repo: Repo, keys: string[]): Promise<void> {
  const now = Date.now();
  await versionRows(registry.dialect).run(
    trx,
    keys.map((key) => {
      const [module, version] = key.split('\n');
      return { repo_id: repo.id, module, version, created_at: now };
    }),
  );
}

// 4 parameters a row.
const versionRows = perDialect(
  () =>
    new MultiRowStatement<Insertable<BazelTables['bazel_versions']>, Database & BazelTables>(
      BATCH,
      (db, rows) =>
        db
          .insertInto('bazel_versions')
          .values(rows)
          .onConflict((oc) => oc.columns(['repo_id', 'module', 'version']).doNothing()),
      (r) => [r.repo_id, r.module, r.version, r.created_at],
    ),
);
