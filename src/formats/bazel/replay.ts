import { sql, type Kysely } from 'kysely';
import { sha256Hex } from '../../core/hash.js';
import type { Registry } from '../../registry/registry.js';
import { firstDifference, type PublishedParts } from '../../registry/replay.js';
import type { Repo } from '../../registry/repos.js';
import type { Database } from '../../storage/schema.js';
import type { BazelTables } from './schema.js';

/** What a publish of one version writes that is its own: the files under its directory and the archive Larder hosts. */
export interface VersionFiles {
  module: string;
  version: string;
  moduleFile: Buffer;
  sourceJson: Buffer;
  patches: Map<string, Buffer>;
  overlay: Map<string, Buffer>;
  presubmit?: Buffer;
  /** The uploaded archive Larder hosts, or none when source.json names an archive elsewhere. */
  hosted: { fileName: string; data: Buffer } | null;
}

const ARCHIVE = 'hosted archive';

/** The files of `modules/{m}/{v}/` and the hosted archive (file name and sha256) as a publish of `files` would write them. */
function partsOf(files: VersionFiles): PublishedParts {
  const dir = `modules/${files.module}/${files.version}`;
  const parts: PublishedParts = { [`${dir}/MODULE.bazel`]: files.moduleFile, [`${dir}/source.json`]: files.sourceJson };
  for (const [name, data] of files.patches) parts[`${dir}/patches/${name}`] = data;
  for (const [rel, data] of files.overlay) parts[`${dir}/overlay/${rel}`] = data;
  if (files.presubmit) parts[`${dir}/presubmit.yml`] = files.presubmit;
  parts[ARCHIVE] = files.hosted ? `${files.hosted.fileName} ${sha256Hex(files.hosted.data)}` : null;
  return parts;
}

/** What is stored for a version, read afresh: every document under its directory and its hosted archive row. */
async function storedParts(registry: Registry, repo: Repo, module: string, version: string): Promise<PublishedParts> {
  const dir = `modules/${module}/${version}/`;
  // A prefix match without LIKE: module names may contain '_', LIKE's single-character wildcard.
  const docs = await registry.db
    .selectFrom('index_docs')
    .select(['path', 'body'])
    .where('repo_id', '=', repo.id)
    .where(sql<string>`substr(path, 1, ${dir.length})`, '=', dir)
    .execute();
  const parts: PublishedParts = Object.fromEntries(docs.map((d) => [d.path, Buffer.from(d.body)]));
  const db = registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;
  const archive = await db
    .selectFrom('bazel_archives')
    .select(['file_name', 'sha256'])
    .where('repo_id', '=', repo.id)
    .where('module', '=', module)
    .where('version', '=', version)
    .executeTakeFirst();
  parts[ARCHIVE] = archive ? `${archive.file_name} ${archive.sha256}` : null;
  return parts;
}

/**
 * What a publish of `files` would write that differs from the stored version, or null when it would write exactly that
 * (a retried publish): MODULE.bazel, source.json (which pins the archive's integrity and URL), patches, overlay files,
 * presubmit.yml, and the hosted archive's name and sha256. Not compared: metadata.json, which belongs to the module (its
 * versions list, yanks and edits change after the publish; a publish's `metadata` part only seeds a new module), and
 * `allow_compatibility_level_change`, a confirmation rather than content.
 */
export async function replayDifference(registry: Registry, repo: Repo, files: VersionFiles): Promise<string | null> {
  return firstDifference(await storedParts(registry, repo, files.module, files.version), partsOf(files));
}
