import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { fail } from '../../core/errors.js';
import { strongEtag } from '../../core/hash.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import type { Database } from '../../storage/schema.js';
import { classifyRegistryPath } from './paths.js';
import type { BazelTables } from './schema.js';
import { writeModuleSearchEntry } from './search-entry.js';

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
interface TreeFile {
  rel: string;
  body: Buffer;
  etag: string;
  /** `statKey` of the file, taken before its bytes were read. */
  stat: string;
}

/**
 * What says a file is the one read before, as git's index does: size, modification and change times, inode, device.
 * Writing a file changes its ctime (which no tool sets back), and a fresh checkout makes new inodes.
 */
function statKey(st: fs.BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`;
}

/**
 * A file's bytes and its stat, taken on the open descriptor before reading: a file written meanwhile is read again next
 * time. Synchronous: a tree to import was usually just cloned or extracted, so its files are in the page cache, and four
 * syscalls cost this thread less than four round trips to libuv's pool (the import's CPU fell by a third).
 */
function readWithStat(file: string): { body: Buffer; stat: string } {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const size = Number(st.size);
    // A buffer of its own (as fs.readFile gives), not a slice of a shared pool slab that a batch would keep alive.
    const body = Buffer.allocUnsafeSlow(size);
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, body, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return { body: at === size ? body : body.subarray(0, at), stat: statKey(st) };
  } finally {
    fs.closeSync(fd);
  }
}

/** The module a registry file belongs to ('' for bazel_registry.json). */
function moduleOf(rel: string): string {
  const file = classifyRegistryPath(rel);
  return file && file.kind !== 'registry-json' ? file.module : '';
}

/** `module\nversion` of a version's MODULE.bazel, or null for any other file. */
function versionOf(rel: string): string | null {
  const f = classifyRegistryPath(rel);
  return f?.kind === 'version-file' && f.name === 'MODULE.bazel' ? `${f.module}\n${f.version}` : null;
}

/** Registry files below `root` (bazel_registry.json and modules/**), relative, sorted by path (code units). */
function registryFiles(root: string): { files: string[]; ignored: number } {
  const files: string[] = [];
  let ignored = 0;
  const walk = (dir: string, prefix: string) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = prefix + e.name;
      if (e.isDirectory()) {
        if (rel === 'modules' || prefix.startsWith('modules/')) walk(`${dir}/${e.name}`, `${rel}/`);
        else ignored++;
      } else if (e.isSymbolicLink()) {
        fail(
          'ARCHIVE_INVALID',
          `${rel} is a symbolic link; a registry serves no links (static hosts do not follow them): replace it with the file`,
        );
      } else if (e.isFile() && classifyRegistryPath(rel)) files.push(rel);
      else ignored++;
    }
  };
  walk(root, '');
  return { files, ignored };
}

/** Reads `rels` below `root`, hashing each file once. */
function readTreeFiles(root: string, rels: string[]): TreeFile[] {
  return rels.map((rel) => {
    const { body, stat } = readWithStat(path.join(root, rel));
    return { rel, body, etag: strongEtag(body), stat };
  });
}

/** `files` (sorted) cut into batches of about `size` files that never split a module. */
function moduleBatches(files: string[], size: number): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let module: string | null = null;
  for (const rel of files) {
    const m = moduleOf(rel);
    if (current.length >= size && m !== module) {
      batches.push(current);
      current = [];
    }
    current.push(rel);
    module = m;
  }
  if (current.length) batches.push(current);
  return batches;
}

/**
 * Loads an index registry tree (a BCR clone, a company's registry repo) into a hosted repo
 * byte for byte. Only new and changed files are written; a changed file that lockfiles pin
 * (anything but metadata.json) is refused, because every user's build would break on it.
 * Files are read a batch at a time and hashed once; memory holds a batch, not the tree. A file whose stat is the one its
 * document was imported from is not read at all.
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
  const db = registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;
  const { files, ignored } = registryFiles(root);
  const docs = await registry.docs.importStats(repo.id);
  const existing = new Map([...docs].map(([p, d]) => [p, d.etag]));
  const known = new Set(
    (await db.selectFrom('bazel_versions').select(['module', 'version']).where('repo_id', '=', repo.id).execute()).map(
      (r) => `${r.module}\n${r.version}`,
    ),
  );
  const hadVersions = known.size > 0;

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
  for (let i = 0; i < served.length; i += BATCH) {
    for (const f of readTreeFiles(root, served.slice(i, i + BATCH))) {
      const before = existing.get(f.rel);
      if (before === f.etag) {
        unchanged++;
        restat.push({ path: f.rel, etag: f.etag, importStat: f.stat });
      } else {
        const kind = classifyRegistryPath(f.rel)!.kind;
        // A fresh repo's generated bazel_registry.json may be replaced by the imported one.
        if (kind !== 'metadata' && !(kind === 'registry-json' && !hadVersions)) refused.push(f.rel);
        // Held until written: only changed metadata.json (and bazel_registry.json) get this far without a refusal.
        else changed.set(f.rel, f);
      }
    }
    progress(0, files.length);
  }
  if (refused.length) {
    fail(
      'VERSION_EXISTS',
      `these files are already served with other bytes, and lockfiles pin them: ${refused.slice(0, 10).join(', ')}${refused.length > 10 ? ` and ${refused.length - 10} more` : ''}; publish a new version instead of changing one`,
    );
  }

  const versions = new Set(files.flatMap((rel) => versionOf(rel) ?? []));
  const missing = new Set([...versions].filter((v) => !known.has(v)));
  const writes = files.filter((rel) => !existing.has(rel) || changed.has(rel));
  const batches = moduleBatches(writes, BATCH);
  const read = (batch: string[]) => {
    const byPath = new Map(
      readTreeFiles(
        root,
        batch.filter((rel) => !changed.has(rel)),
      ).map((f) => [f.rel, f]),
    );
    return batch.map((rel) => changed.get(rel) ?? byPath.get(rel)!);
  };
  let done = unchanged;
  progress(done, files.length);
  for (const names of batches) {
    const batch = read(names);
    const held = new Map(batch.map((f) => [f.rel, f.body]));
    const modules = new Set(batch.map((f) => moduleOf(f.rel)).filter((m) => m !== ''));
    const added = batch.flatMap((f) => versionOf(f.rel) ?? []).filter((v) => missing.has(v));
    await inTransaction(registry, async (uow) => {
      await registry.docs.putMany(
        uow,
        repo.id,
        batch.map((f) => ({ path: f.rel, body: f.body, etag: f.etag, importStat: f.stat })),
      );
      await insertVersions(uow.trx.withTables<BazelTables>(), repo, added);
      // Modules whose files changed get their search entry rewritten (unchanged ones keep theirs, and their place in
      // the recently-changed list), from the files in memory where the batch holds them.
      for (const module of modules) await writeModuleSearchEntry(registry, uow, repo, module, (p) => held.get(p));
    });
    for (const v of added) missing.delete(v);
    done += batch.length;
    progress(done, files.length);
  }
  // Versions whose files were all served already but that have no row (an import stopped between its transactions).
  if (missing.size) await inTransaction(registry, (uow) => insertVersions(uow.trx.withTables<BazelTables>(), repo, [...missing]));
  for (let i = 0; i < restat.length; i += BATCH) {
    await inTransaction(registry, (uow) => registry.docs.setImportStats(uow, repo.id, restat.slice(i, i + BATCH)));
  }
  const added = writes.filter((rel) => !existing.has(rel)).length;
  return { added, changed: writes.length - added, unchanged, ignored, versions: versions.size };
}

/** Records module versions (`module\nversion` keys) in multi-row statements. */
async function insertVersions(trx: Kysely<Database & BazelTables>, repo: Repo, keys: string[]): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < keys.length; i += BATCH) {
    const rows = keys.slice(i, i + BATCH).map((key) => {
      const [module, version] = key.split('\n');
      return { repo_id: repo.id, module, version, created_at: now };
    });
    await trx
      .insertInto('bazel_versions')
      .values(rows)
      .onConflict((oc) => oc.columns(['repo_id', 'module', 'version']).doNothing())
      .execute();
  }
}
