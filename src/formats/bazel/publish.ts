import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { unpackedLimit } from '../../core/config.js';
import { fail } from '../../core/errors.js';
import { parseSri, sri, sriHasher, type SriAlgorithm } from '../../core/sri.js';
import { formatSize } from '../../core/units.js';
import { audit } from '../../registry/audit.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { authorizeWrite, checkWriter } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import type { Database } from '../../storage/schema.js';
import { parseMetadata, serializeMetadata, withVersion, type BazelMetadata } from './metadata.js';
import { parseGitSource, verifyGitSource, type GitSourceJson } from './git-source.js';
import { checkCompatibilityLevel, checkPresubmit, checkSourceType, checkSourceUrl, repositoryList } from './policy.js';
import { readModuleFile, sameModuleFile } from './module-file.js';
import { moduleExists, moduleRef } from './owners.js';
import { writeModuleSearchEntry } from './search-entry.js';
import type { BazelTables } from './schema.js';
import { applyOverlay, applyPatches, filesToKeep, unpackArchive } from './source-tree.js';
import { compareBazelVersions, validateModuleName, validatePublishVersion } from './version.js';
import { storeBlob } from '../../registry/blob-records.js';
import { writeOrReplay } from '../../registry/replay.js';
import { replayDifference, type VersionFiles } from './replay.js';

/** What a publish brings: the registry files, and either an archive to host or a source.json naming one. */
export interface BazelPublish {
  module: string;
  version: string;
  moduleFile: Buffer;
  sourceJson?: Buffer;
  archive?: { fileName: string; data: Buffer };
  stripPrefix?: string;
  archiveType?: string;
  patchStrip?: number;
  patches: Map<string, Buffer>;
  overlay: Map<string, Buffer>;
  presubmit?: Buffer;
  /** homepage, maintainers, repository: used when the module is new. */
  metadata?: Partial<BazelMetadata>;
  /** The publisher confirms a compatibility_level change (a deliberate breaking release). */
  allowCompatibilityLevelChange?: boolean;
}

interface SourceJson {
  type?: string;
  url: string;
  integrity: string;
  strip_prefix?: string;
  patch_strip?: number;
  patches?: Record<string, string>;
  overlay?: Record<string, string>;
  archive_type?: string;
  mirror_urls?: string[];
  [key: string]: unknown;
}

const ARCHIVE_NAME = /^[A-Za-z0-9._+-]+$/;
const PATCH_NAME = /^[A-Za-z0-9._+-]+$/;

/** The URL at which Larder hosts a published archive: stable forever, since source.json pins it. */
export function archiveUrl(base: string, repo: Repo, module: string, version: string, fileName: string): string {
  return `${base.replace(/\/+$/, '')}/${repo.name}/archives/${module}/${version}/${fileName}`;
}

/** The source.json Larder writes for an archive it hosts: its URL here, its integrity, and the publish's layout fields. */
function hostedSource(base: string, repo: Repo, pub: BazelPublish, archive: { fileName: string; data: Buffer }): SourceJson {
  const source: SourceJson = {
    url: archiveUrl(base, repo, pub.module, pub.version, archive.fileName),
    integrity: sri(archive.data, 'sha256'),
  };
  if (pub.stripPrefix) source.strip_prefix = pub.stripPrefix;
  if (pub.archiveType) source.archive_type = pub.archiveType;
  if (pub.overlay.size) source.overlay = Object.fromEntries([...pub.overlay].map(([k, v]) => [k, sri(v)]));
  if (pub.patches.size) {
    source.patches = Object.fromEntries([...pub.patches].map(([k, v]) => [k, sri(v)]));
    source.patch_strip = pub.patchStrip ?? 1;
  }
  return source;
}

/** source.json as BCR tooling writes it: indent 4, keys in a fixed (unsorted) order, a trailing newline. */
function sourceJsonBytes(s: SourceJson): Buffer {
  return Buffer.from(`${JSON.stringify(s, null, 4)}\n`);
}

/** source.json as a JSON object, and the source type it declares (`archive` when it names none, as for Bazel). */
function sourceObject(bytes: Buffer): { json: Record<string, unknown>; type: string } {
  let s: unknown;
  try {
    s = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail('METADATA_INVALID', 'source.json is not valid JSON');
  }
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail('METADATA_INVALID', 'source.json must be a JSON object');
  const type = (s as { type?: unknown }).type ?? 'archive';
  if (typeof type !== 'string') fail('METADATA_INVALID', 'source.json "type" must be a string ("archive" or "git_repository")');
  return { json: s as Record<string, unknown>, type };
}

/** An archive source.json's fields (its type already checked). */
function parseSourceJson(json: Record<string, unknown>): SourceJson {
  const s = json as SourceJson;
  if (typeof s.url !== 'string' || !/^https?:\/\//.test(s.url))
    fail('METADATA_INVALID', 'source.json needs "url", an http(s) URL of the source archive');
  if (typeof s.integrity !== 'string') fail('METADATA_INVALID', 'source.json needs "integrity", the SRI of the archive (sha256-…)');
  parseSri(s.integrity);
  for (const key of ['patches', 'overlay'] as const) {
    const v = s[key];
    if (
      v !== undefined &&
      (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string'))
    ) {
      fail('METADATA_INVALID', `source.json "${key}" must map file names to SRI values`);
    }
  }
  const mirrors = s.mirror_urls;
  if (mirrors !== undefined && (!Array.isArray(mirrors) || !mirrors.every((u) => typeof u === 'string' && /^https?:\/\//.test(u)))) {
    fail('METADATA_INVALID', 'source.json "mirror_urls" must be a list of http(s) URLs of the same archive');
  }
  return s;
}

/**
 * Downloads an archive a source.json names through the outbound client (address rules, redirects
 * re-checked, size and time bounds), hashing as it streams.
 */
async function download(
  registry: Registry,
  url: string,
  what: string,
  algorithm: SriAlgorithm,
  maxSize: number,
): Promise<{ data: Buffer; integrity: string }> {
  const hasher = sriHasher(algorithm);
  const data = await registry.outbound.download(url, { maxSize, onChunk: (c) => hasher.update(c), failCode: 'ARCHIVE_INVALID', what });
  return { data, integrity: hasher.digest() };
}

/** Checks that the files sent are exactly the ones listed, each with the SRI listed. */
function checkListed(kind: 'patches' | 'overlay', listed: Record<string, string>, sent: Map<string, Buffer>): void {
  for (const [name, integrity] of Object.entries(listed)) {
    const bytes = sent.get(name);
    if (!bytes) fail('METADATA_INVALID', `source.json lists ${kind}/${name}, but the publish does not include that file`);
    const { algorithm } = parseSri(integrity);
    if (sri(bytes, algorithm) !== integrity)
      fail(
        'ARCHIVE_INVALID',
        `${kind}/${name} does not match its integrity in source.json (${integrity}); it hashes to ${sri(bytes, algorithm)}`,
      );
  }
  for (const name of sent.keys()) {
    if (!(name in listed)) fail('METADATA_INVALID', `${kind}/${name} was sent but source.json does not list it`);
  }
}

/** Overlay support arrived in Bazel 7.2.1: older ones ignore it and build an incomplete tree. */
function requireOverlayBazel(bazelCompatibility: string[]): void {
  const ok = bazelCompatibility.some((c) => {
    const m = /^(>=|>)\s*([0-9][0-9A-Za-z.+-]*)$/.exec(c.trim());
    if (!m) return false;
    const cmp = compareBazelVersions(m[2], '7.2.1');
    return m[1] === '>=' ? cmp >= 0 : compareBazelVersions(m[2], '7.2.0') > 0;
  });
  if (!ok)
    fail(
      'METADATA_INVALID',
      'a module with overlay files needs bazel_compatibility = [">=7.2.1"] (or later) in MODULE.bazel: older Bazel ignores overlays',
    );
}

/** Downloads an archive source.json's `url` and every `mirror_urls` entry; each must match its integrity. */
async function downloadSource(registry: Registry, source: SourceJson): Promise<Buffer> {
  const { maxArchiveSize } = registry.config.limits;
  const { algorithm } = parseSri(source.integrity);
  const got = await download(registry, source.url, 'source.json url', algorithm, maxArchiveSize);
  // The computed hash is not echoed: it would make any reachable URL's content an oracle.
  if (got.integrity !== source.integrity)
    fail(
      'ARCHIVE_INVALID',
      `the archive at ${source.url} does not match the integrity in source.json (${source.integrity}); check the URL and recompute the integrity from the archive`,
    );
  for (const mirror of source.mirror_urls ?? []) {
    const m = await download(registry, mirror, 'source.json mirror_urls entry', algorithm, maxArchiveSize);
    if (m.integrity !== source.integrity)
      fail(
        'ARCHIVE_INVALID',
        `the archive at mirror ${mirror} does not match the integrity in source.json (${source.integrity}); every mirror must serve the same bytes`,
      );
  }
  return got.data;
}

/** The tree Bazel will build from an archive source: the archive, overlays, then patches; its MODULE.bazel must be ours. */
async function checkArchiveTree(
  registry: Registry,
  pub: BazelPublish,
  bazelCompatibility: string[],
  source: SourceJson,
  archive: Buffer,
): Promise<void> {
  checkListed('patches', source.patches ?? {}, pub.patches);
  checkListed('overlay', source.overlay ?? {}, pub.overlay);
  if (pub.overlay.size) requireOverlayBazel(bazelCompatibility);
  const fileName = pub.archive?.fileName ?? new URL(source.url).pathname.split('/').pop() ?? 'archive';
  const patches = [...pub.patches].map(([name, data]) => ({ name, text: data.toString('utf8') }));
  const keep = filesToKeep(patches, source.patch_strip ?? 0);
  const tree = await unpackArchive(archive, {
    fileName,
    archiveType: source.archive_type,
    stripPrefix: source.strip_prefix,
    limits: { maxUnpackedSize: unpackedLimit(registry.config, 'bazelSource'), maxEntries: registry.config.limits.maxArchiveEntries },
    keep: (path) => keep.has(path),
  });
  applyOverlay(tree, pub.overlay);
  applyPatches(tree, patches, source.patch_strip ?? 0);
  const inTree = tree.get('MODULE.bazel');
  if (inTree && !sameModuleFile(inTree.data.toString('utf8'), pub.moduleFile.toString('utf8'))) {
    fail(
      'MANIFEST_MISMATCH',
      'the MODULE.bazel in the source tree (after overlay and patches) differs from the one published; add a patch that makes them equal (the BCR names it module_dot_bazel.patch)',
    );
  }
}

function logReplay(registry: Registry, repo: Repo, pub: BazelPublish): void {
  registry.log.info(
    { repo: repo.name, module: pub.module, version: pub.version },
    'publish repeated with identical content (a retry): answered as the success it was, nothing written',
  );
}

/**
 * A publish of a version that exists: the success it was when it would write exactly what is stored (a load balancer's
 * retry of a publish whose answer was lost; nothing is downloaded, checked or written again), else the refusal it always was.
 */
async function replay(registry: Registry, repo: Repo, pub: BazelPublish, baseUrl: string): Promise<{ sourceJson: Buffer }> {
  // Only a publish that could have succeeded can repeat one: exactly one of an archive and a source.json.
  const hosted = pub.archive && !pub.sourceJson ? pub.archive : null;
  const sourceJson = hosted ? sourceJsonBytes(hostedSource(baseUrl, repo, pub, hosted)) : pub.archive ? undefined : pub.sourceJson;
  if (!sourceJson || (await replayDifference(registry, repo, { ...pub, sourceJson, hosted })) !== null)
    fail('VERSION_EXISTS', `${pub.module}@${pub.version} is already published, and published versions never change; publish a new version`);
  logReplay(registry, repo, pub);
  return { sourceJson };
}

/**
 * Validates a publish as the BCR's tooling does (protocols/bazel.md §8.1) and stores it: the
 * registry files byte for byte, a hosted archive when one was uploaded, and the new metadata.json,
 * in one transaction.
 */
export async function publishBazelModule(
  registry: Registry,
  repo: Repo,
  p: Principal,
  pub: BazelPublish,
  baseUrl: string,
): Promise<{ sourceJson: Buffer }> {
  validateModuleName(pub.module);
  validatePublishVersion(pub.version);
  requirePermission(p, 'publish', repo.name, pub.module);
  const { limits } = registry.config;
  const decl = readModuleFile(pub.moduleFile.toString('utf8'));
  if (decl.name !== pub.module || decl.version !== pub.version) {
    fail(
      'MANIFEST_MISMATCH',
      `MODULE.bazel declares module(name = ${JSON.stringify(decl.name)}, version = ${JSON.stringify(decl.version)}), but this publish is ${pub.module}@${pub.version}`,
    );
  }
  const db = registry.db.withTables<BazelTables>() as Kysely<Database & BazelTables>;
  await checkWriter(registry.db, p, moduleRef(repo, pub.module), await moduleExists(registry.db, repo, pub.module));
  const exists = await db
    .selectFrom('bazel_versions')
    .select('id')
    .where('repo_id', '=', repo.id)
    .where('module', '=', pub.module)
    .where('version', '=', pub.version)
    .executeTakeFirst();
  if (exists) return replay(registry, repo, pub, baseUrl);
  await checkCompatibilityLevel(registry, repo, db, pub, decl.compatibilityLevel);
  checkPresubmit(repo, pub.presubmit);
  for (const name of pub.patches.keys())
    if (!PATCH_NAME.test(name)) fail('METADATA_INVALID', `patch name "${name}" may only use letters, digits, '.', '_', '+' and '-'`);

  let source: SourceJson | null = null;
  let git: GitSourceJson | null = null;
  let hosted: { fileName: string; data: Buffer } | null = null;
  if (pub.archive) {
    if (pub.sourceJson)
      fail('METADATA_INVALID', 'send either an archive (Larder hosts it and writes source.json) or a source.json naming one, not both');
    checkSourceType(repo, 'archive');
    if (!ARCHIVE_NAME.test(pub.archive.fileName))
      fail('METADATA_INVALID', `archive file name "${pub.archive.fileName}" may only use letters, digits, '.', '_', '+' and '-'`);
    if (pub.archive.data.length > limits.maxArchiveSize)
      fail('ARCHIVE_TOO_LARGE', `the archive is larger than this registry's ${formatSize(limits.maxArchiveSize)} limit`);
    hosted = pub.archive;
    source = hostedSource(baseUrl, repo, pub, pub.archive);
    await checkArchiveTree(registry, pub, decl.bazelCompatibility, source, hosted.data);
  } else if (pub.sourceJson) {
    const { json, type } = sourceObject(pub.sourceJson);
    const repository = await repositoryList(registry, repo, pub.module, pub.metadata?.repository);
    if (checkSourceType(repo, type) === 'git_repository') {
      git = parseGitSource(json);
      if (pub.overlay.size)
        fail('METADATA_INVALID', 'a git_repository source takes no overlay files: Bazel applies overlays to archives only');
      checkListed('patches', git.patches ?? {}, pub.patches);
      await verifyGitSource(registry, repo, git, pub, repository);
    } else {
      source = parseSourceJson(json);
      checkSourceUrl(repo, source.url, 'source.json url', repository, 'archive');
      for (const mirror of source.mirror_urls ?? []) checkSourceUrl(repo, mirror, 'source.json mirror_urls entry', repository, 'archive');
      const archive = await downloadSource(registry, source);
      await checkArchiveTree(registry, pub, decl.bazelCompatibility, source, archive);
    }
  } else {
    fail('METADATA_INVALID', 'a publish needs the source: an archive to host, or a source.json naming one');
  }

  const sourceJson = pub.sourceJson ?? sourceJsonBytes(source!);
  const staged = hosted ? await registry.blobs.stage(Readable.from([hosted.data]), { maxSize: limits.maxArchiveSize }) : null;
  const files: VersionFiles = { ...pub, sourceJson, hosted };
  try {
    await writeOrReplay(
      () =>
        inTransaction(registry, async (uow) => {
          const trx = uow.trx.withTables<BazelTables>();
          await authorizeWrite(uow.trx, registry.dialect, p, moduleRef(repo, pub.module), await moduleExists(uow.trx, repo, pub.module));
          const dir = `modules/${pub.module}/${pub.version}`;
          await trx
            .insertInto('bazel_versions')
            .values({ repo_id: repo.id, module: pub.module, version: pub.version, created_at: Date.now() })
            .execute();
          await registry.docs.put(uow, repo.id, `${dir}/MODULE.bazel`, pub.moduleFile);
          await registry.docs.put(uow, repo.id, `${dir}/source.json`, sourceJson);
          for (const [name, data] of pub.patches) await registry.docs.put(uow, repo.id, `${dir}/patches/${name}`, data);
          for (const [rel, data] of pub.overlay) await registry.docs.put(uow, repo.id, `${dir}/overlay/${rel}`, data);
          if (pub.presubmit) await registry.docs.put(uow, repo.id, `${dir}/presubmit.yml`, pub.presubmit);
          const metaPath = `modules/${pub.module}/metadata.json`;
          const current = await registry.docs.read(uow, repo.id, metaPath);
          const base: BazelMetadata = current
            ? parseMetadata(current, pub.module)
            : {
                homepage: pub.metadata?.homepage ?? '',
                maintainers: pub.metadata?.maintainers ?? [],
                repository: pub.metadata?.repository ?? [],
                versions: [],
                yanked_versions: {},
              };
          await registry.docs.put(uow, repo.id, metaPath, serializeMetadata(withVersion(base, pub.version)));
          await writeModuleSearchEntry(registry, uow, repo, pub.module);
          if (staged && hosted) {
            await trx
              .insertInto('bazel_archives')
              .values({
                repo_id: repo.id,
                module: pub.module,
                version: pub.version,
                file_name: hosted.fileName,
                sha256: staged.sha256,
                size: staged.size,
                created_at: Date.now(),
              })
              .execute();
            await storeBlob(uow, staged);
          }
          await audit(uow.trx, {
            userId: p.userId,
            repoId: repo.id,
            action: 'bazel.publish',
            subject: `${pub.module}@${pub.version}`,
            detail: git ? { remote: git.remote, commit: git.commit } : { integrity: source!.integrity, url: source!.url },
          });
        }),
      // Lost the race to a request that committed this version first: a retry of the same publish, or a conflict.
      async () => {
        if ((await replayDifference(registry, repo, files)) !== null)
          fail('VERSION_EXISTS', `${pub.module}@${pub.version} was published at the same moment by another request`);
        logReplay(registry, repo, pub);
      },
    );
  } finally {
    // After a commit the blob is in place and this does nothing; otherwise it removes the staged copy.
    await staged?.discard();
  }
  return { sourceJson };
}
