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

const BATCH = 500;

/** The module a registry file belongs to (none for bazel_registry.json). */
function moduleOf(rel: string): string[] {
  const file = classifyRegistryPath(rel);
  return file && file.kind !== 'registry-json' ? [file.module] : [];
}

/** Registry files below `root` (bazel_registry.json and modules/**), relative, sorted. */
function registryFiles(root: string): { files: string[]; ignored: number } {
  const files: string[] = [];
  let ignored = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = path.join(dir, e.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (e.isDirectory()) {
        if (rel === 'modules' || rel.startsWith('modules/')) walk(abs);
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
  walk(root);
  return { files, ignored };
}

/**
 * Loads an index registry tree (a BCR clone, a company's registry repo) into a hosted repo
 * byte for byte. Only new and changed files are written; a changed file that lockfiles pin
 * (anything but metadata.json) is refused, because every user's build would break on it.
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
  const existing = new Map(
    (await db.selectFrom('index_docs').select(['path', 'etag']).where('repo_id', '=', repo.id).execute()).map((r) => [r.path, r.etag]),
  );
  const hadVersions = (await db.selectFrom('bazel_versions').select('id').where('repo_id', '=', repo.id).executeTakeFirst()) !== undefined;

  // First pass: what would change. Nothing is written if a pinned file would.
  const writes: Array<{ rel: string; body: Buffer }> = [];
  const refused: string[] = [];
  let unchanged = 0;
  files.forEach((rel, i) => {
    const body = fs.readFileSync(path.join(root, rel));
    const before = existing.get(rel);
    if (before === strongEtag(body)) unchanged++;
    else {
      const kind = classifyRegistryPath(rel)!.kind;
      // A fresh repo's generated bazel_registry.json may be replaced by the imported one.
      if (before !== undefined && kind !== 'metadata' && !(kind === 'registry-json' && !hadVersions)) refused.push(rel);
      writes.push({ rel, body });
    }
    if (i % 200 === 0) progress(0, files.length);
  });
  if (refused.length) {
    fail(
      'VERSION_EXISTS',
      `these files are already served with other bytes, and lockfiles pin them: ${refused.slice(0, 10).join(', ')}${refused.length > 10 ? ` and ${refused.length - 10} more` : ''}; publish a new version instead of changing one`,
    );
  }

  const versions = new Set(
    files
      .map((rel) => classifyRegistryPath(rel))
      .flatMap((f) => (f?.kind === 'version-file' && f.name === 'MODULE.bazel' ? [`${f.module}\n${f.version}`] : [])),
  );
  let done = unchanged;
  progress(done, files.length);
  for (let i = 0; i < writes.length; i += BATCH) {
    const batch = writes.slice(i, i + BATCH);
    await inTransaction(registry, async (uow) => {
      for (const w of batch) await registry.docs.put(uow, repo.id, w.rel, w.body);
    });
    done += batch.length;
    progress(done, files.length);
  }
  // Modules whose files changed get their search entry rewritten (unchanged ones keep theirs, and their place in
  // the recently-changed list), in the transaction that records the versions.
  const touched = new Set(writes.flatMap((w) => moduleOf(w.rel)));
  await inTransaction(registry, async (uow) => {
    const trx = uow.trx.withTables<BazelTables>();
    for (const key of versions) {
      const [module, version] = key.split('\n');
      await trx
        .insertInto('bazel_versions')
        .values({ repo_id: repo.id, module, version, created_at: Date.now() })
        .onConflict((oc) => oc.columns(['repo_id', 'module', 'version']).doNothing())
        .execute();
    }
    for (const module of touched) await writeModuleSearchEntry(registry, uow, repo, module);
  });
  const added = writes.filter((w) => !existing.has(w.rel)).length;
  return { added, changed: writes.length - added, unchanged, ignored, versions: versions.size };
}
