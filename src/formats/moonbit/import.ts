/**
 * `larder import moonbit`: an existing index (mooncakes.io's, a mirror's, a moonbit-registry-tools
 * store's) loaded into a hosted repo. Every index file is stored byte-identical as one commit of the
 * repo's index history; each line with a SemVer version and a checksum gets a `moonbit_versions` row
 * (size null without its zip: the download is a 404 until a zip is there). Imported modules have no
 * owners (admin-only), and Larder's own publishes append to the imported files.
 */
import fs from 'node:fs';
import { fail } from '../../core/errors.js';
import { storeBlob } from '../../registry/blob-records.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import type { StagedBlob } from '../../storage/blobs.js';
import type { ImportFile, ImportSource } from './import-source.js';
import { canonicalVersion } from './index-line.js';
import { archiveKey, moduleOfIndexPath, YANKED_PATH } from './names.js';
import { updateSearchEntry, yankedIn } from './search.js';
import { writeIndexFiles, type MoonbitTables } from './store.js';

export interface MoonbitImportSummary {
  /** Module index files written for the first time. */
  added: number;
  /** Module index files the repo held with fewer lines, now extended by the source's new lines. */
  extended: number;
  /** Module index files the repo already held byte for byte. */
  unchanged: number;
  /** Versions (rows) added. */
  versions: number;
  /** Lines kept byte-identical that moon cannot use or that name no checksum: no row. */
  skippedLines: number;
  /** Rows marked yanked from yanked.json. */
  yanked: number;
  /** Zips stored with their versions. */
  zips: number;
  /** Zips of the store no index line names. */
  strayZips: number;
  /** Paths of the source that are not index files. */
  ignored: number;
  /** False when the repo already held all of it (no commit). */
  committed: boolean;
}

/** One version an index line gives: the checksum of its zip (the last line naming a version wins, as in moon). */
interface LineVersions {
  versions: Map<string, { checksum: string; description: string | null }>;
  skipped: number;
}

const CHECKSUM = /^[0-9a-fA-F]{64}$/;

/** The versions of an index file's lines; lines without a SemVer version or a checksum count as skipped. */
export function lineVersions(body: Buffer): LineVersions {
  const versions: LineVersions['versions'] = new Map();
  let skipped = 0;
  for (const raw of body.toString('utf8').split('\n')) {
    if (raw.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      skipped++;
      continue;
    }
    const line = v as { version?: unknown; checksum?: unknown; description?: unknown } | null;
    if (
      !line ||
      typeof line !== 'object' ||
      typeof line.version !== 'string' ||
      canonicalVersion(line.version) !== line.version ||
      typeof line.checksum !== 'string' ||
      !CHECKSUM.test(line.checksum)
    ) {
      skipped++;
      continue;
    }
    const description = typeof line.description === 'string' && line.description !== '' ? line.description : null;
    versions.set(line.version, { checksum: line.checksum.toLowerCase(), description });
  }
  return { versions, skipped };
}

/** The entries of a yanked.json (`{"yankedPackages": [{name, version, reason}]}`), by `<module>/<version>`. */
export function yankedEntries(body: Buffer): Map<string, string | null> {
  const out = new Map<string, string | null>();
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return out;
  }
  const list = (doc as { yankedPackages?: unknown } | null)?.yankedPackages;
  if (!Array.isArray(list)) return out;
  for (const e of list as Array<{ name?: unknown; version?: unknown; reason?: unknown }>) {
    if (typeof e?.name === 'string' && typeof e.version === 'string')
      out.set(archiveKey(e.name, e.version), typeof e.reason === 'string' ? e.reason : null);
  }
  return out;
}

/** A new row to insert. */
interface NewRow {
  module: string;
  version: string;
  checksum: string;
  description: string | null;
}

/** A list of names for a message: the first ten, then how many more. */
function listed(names: string[]): string {
  return `${names.slice(0, 10).join(', ')}${names.length > 10 ? ` and ${names.length - 10} more` : ''}`;
}

/** Stages every zip of the source that an index line names, refusing one whose sha256 is not that line's checksum. */
async function stageZips(
  registry: Registry,
  source: ImportSource,
  checksums: Map<string, string>,
  staged: Map<string, StagedBlob>,
  tick: () => void,
): Promise<number> {
  let stray = 0;
  for (const [key, file] of source.zips) {
    const want = checksums.get(key);
    if (!want) {
      stray++;
      continue;
    }
    const blob = await registry.blobs.stage(fs.createReadStream(file), { maxSize: registry.config.limits.maxArchiveSize });
    staged.set(key, blob);
    if (blob.sha256 !== want)
      fail(
        'MANIFEST_MISMATCH',
        `${file} has sha256 ${blob.sha256}, but the index line of ${key.replace(/\/([^/]*)$/, '@$1')} says checksum ${want}: the zip is not the one the index names; nothing was imported`,
      );
    tick();
  }
  return stray;
}

/**
 * Imports a source into a hosted repo in one transaction and one commit. A module file the repo holds
 * with other bytes is refused (named), unless the repo's file is a prefix the source only appends to;
 * identical files are skipped, so the same import again changes nothing.
 */
export async function importMoonbit(
  registry: Registry,
  repo: Repo,
  source: ImportSource,
  progress: (done: number, total: number) => void = () => {},
): Promise<MoonbitImportSummary> {
  const modules = source.files
    .filter((f) => f.path !== YANKED_PATH)
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const yankedFile = source.files.find((f) => f.path === YANKED_PATH);
  const parsed = new Map<string, LineVersions>(modules.map((f) => [f.path, lineVersions(f.body)]));
  const checksums = new Map<string, string>();
  for (const f of modules)
    for (const [v, l] of parsed.get(f.path)!.versions) checksums.set(archiveKey(moduleOfIndexPath(f.path)!, v), l.checksum);

  const total = modules.length + source.zips.size;
  let done = 0;
  const tick = () => progress(++done, total);
  const staged = new Map<string, StagedBlob>();
  try {
    const strayZips = await stageZips(registry, source, checksums, staged, tick);
    return await inTransaction(registry, async (uow) => {
      const trx = uow.trx.withTables<MoonbitTables>();
      const refused: string[] = [];
      const writes: ImportFile[] = [];
      const rows: NewRow[] = [];
      const summary: MoonbitImportSummary = {
        added: 0,
        extended: 0,
        unchanged: 0,
        versions: 0,
        skippedLines: 0,
        yanked: 0,
        zips: 0,
        strayZips,
        ignored: source.ignored.length,
        committed: false,
      };
      for (const f of modules) {
        const module = moduleOfIndexPath(f.path)!;
        const lines = parsed.get(f.path)!;
        summary.skippedLines += lines.skipped;
        const before = await registry.docs.read(uow, repo.id, f.path);
        const held = await trx
          .selectFrom('moonbit_versions')
          .select(['version', 'checksum'])
          .where('repo_id', '=', repo.id)
          .where('module', '=', module)
          .execute();
        const heldChecksum = new Map(held.map((r) => [r.version, r.checksum]));
        if (before?.equals(f.body)) summary.unchanged++;
        else if (before === null && held.length === 0) {
          summary.added++;
          writes.push(f);
        } else if (before && before.length < f.body.length && f.body.subarray(0, before.length).equals(before) && before.at(-1) === 0x0a) {
          // Appending is what a registry's history does; a new line may not re-pin a version the repo serves.
          const repinned = [...lines.versions].filter(([v, l]) => heldChecksum.has(v) && heldChecksum.get(v) !== l.checksum);
          if (repinned.length) refused.push(`${module} (new lines change the checksum of ${repinned.map(([v]) => v).join(', ')})`);
          else {
            summary.extended++;
            writes.push(f);
          }
        } else refused.push(module);
        tick();
        for (const [version, l] of lines.versions) if (!heldChecksum.has(version)) rows.push({ module, version, ...l });
      }
      if (refused.length)
        fail(
          'VERSION_EXISTS',
          `these modules are already in ${repo.name} with other index lines, and moon pins their checksums: ${listed(refused)}; nothing was imported`,
        );
      let yanked = new Map<string, string | null>();
      if (yankedFile) {
        const before = await registry.docs.read(uow, repo.id, YANKED_PATH);
        if (before && !before.equals(yankedFile.body))
          fail(
            'VERSION_EXISTS',
            `${repo.name} already has a ${YANKED_PATH} with other contents; an import does not merge it; nothing was imported`,
          );
        if (!before) {
          writes.push(yankedFile);
          yanked = yankedEntries(yankedFile.body);
        }
      }
      const now = Date.now();
      for (let i = 0; i < rows.length; i += 100) {
        const values = [];
        for (const r of rows.slice(i, i + 100)) {
          const key = archiveKey(r.module, r.version);
          const zip = staged.get(key);
          if (zip) {
            await storeBlob(uow, zip);
            summary.zips++;
          }
          const reason = yanked.get(key);
          if (reason !== undefined) summary.yanked++;
          values.push({
            repo_id: repo.id,
            module: r.module,
            version: r.version,
            checksum: r.checksum,
            size: zip ? zip.size : null,
            description: r.description,
            published_at: now,
            published_by: null,
            yanked: reason !== undefined ? 1 : 0,
            yanked_reason: reason ?? null,
          });
        }
        await trx.insertInto('moonbit_versions').values(values).execute();
      }
      summary.versions = rows.length;
      // yanked.json is new here: it also yanks versions the repo held before this import.
      for (const [key, reason] of yanked) {
        const at = key.lastIndexOf('/');
        const res = await trx
          .updateTable('moonbit_versions')
          .set({ yanked: 1, yanked_reason: reason })
          .where('repo_id', '=', repo.id)
          .where('module', '=', key.slice(0, at))
          .where('version', '=', key.slice(at + 1))
          .where('yanked', '=', 0)
          .executeTakeFirst();
        summary.yanked += Number(res.numUpdatedRows);
      }
      const changed = await writeIndexFiles(uow, registry, repo, writes, `Import ${writes.length} index file(s) (${source.describe})`);
      summary.committed = changed > 0;
      // Search follows what changed: the modules whose index file was written, and those the new yanked.json yanks.
      const touched = new Set(writes.map((f) => moduleOfIndexPath(f.path)).filter((m): m is string => m !== null));
      for (const key of yanked.keys()) touched.add(key.slice(0, key.lastIndexOf('/')));
      const yankedNow = await yankedIn(uow, registry, repo);
      for (const module of touched) await updateSearchEntry(uow, registry, repo, module, yankedNow);
      return summary;
    });
  } finally {
    // Nothing to discard after a commit; a refused import leaves no staged blob behind.
    for (const blob of staged.values()) await blob.discard();
  }
}
