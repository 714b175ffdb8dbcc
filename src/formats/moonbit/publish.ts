/**
 * Publishing a MoonBit module version to a hosted repo (protocols/moonbit.md §8, §9): every check
 * first (zip, manifest, name and namespace, version, deps, dependency confusion), then one
 * transaction that appends the index line, stores the zip and records one git commit.
 */
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { unpackedLimit } from '../../core/config.js';
import { fail, LarderError } from '../../core/errors.js';
import { sha256Hex } from '../../core/hash.js';
import { audit } from '../../registry/audit.js';
import { isAdmin, requirePermission, type Principal } from '../../registry/auth.js';
import { historyTip } from '../../registry/git-history/state.js';
import { authorizeWrite, checkWriter } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction } from '../../registry/tx.js';
import { isUniqueViolation } from '../../storage/db.js';
import { CORE_MODULE, findVersionLine } from './index-line.js';
import { checkManifest, indexLineOf, parseModFile, parseModJson, type CheckedManifest, type RegistryDep } from './manifest.js';
import { indexPath } from './names.js';
import { moduleExists, moduleRef } from './owners.js';
import { appendVersion, committedIndexFile, holdsVersion, moonbitDb, INDEX_HISTORY, refuseTakenVersion, versionRow } from './store.js';
import { readModuleZip } from './zip.js';

/** Zip bytes inflate to at most this many times their compressed size (above the gate's floor): source code, not a bomb. */
const MAX_RATIO = 100;

/** What a publish did (or, dry, would do). */
export interface PublishResult {
  module: string;
  version: string;
  checksum: string;
  dryRun: boolean;
}

/** Reads and checks the manifest of an uploaded zip, and takes its README (null when it has none). */
export async function manifestOfZip(registry: Registry, zip: Buffer): Promise<CheckedManifest & { readme: string | null }> {
  const { limits } = registry.config;
  if (zip.length > limits.maxArchiveSize)
    fail(
      'ARCHIVE_TOO_LARGE',
      `the module zip is larger than this registry's limit (limits.max_archive_size = ${limits.maxArchiveSize} bytes)`,
    );
  const found = await readModuleZip(zip, {
    maxEntries: limits.maxArchiveEntries,
    maxUnpackedSize: unpackedLimit(registry.config, 'moonbitModule'),
    maxRatio: MAX_RATIO,
    maxManifestSize: limits.maxMetadataSize,
  });
  const manifest = found.file === 'moon.mod.json' ? parseModJson(found.manifest) : parseModFile(found.manifest);
  return { ...checkManifest(manifest, found.file), readme: found.readme ?? null };
}

/**
 * The namespace rule (§8.1): `<user>/…` may be published by the Larder user named `<user>`, by
 * someone who already owns a module under `<user>/` here (an organisation), or by an admin.
 */
async function checkNamespace(registry: Registry, repo: Repo, p: Principal, user: string): Promise<void> {
  if (isAdmin(p) || p.login === user) return;
  const prefix = `${user}/`;
  const owned = await registry.db
    .selectFrom('package_owners')
    .select('package')
    .where('repo_id', '=', repo.id)
    .where('user_id', '=', p.userId)
    .where(sql<string>`substr(package, 1, ${prefix.length})`, '=', prefix)
    .limit(1)
    .executeTakeFirst();
  if (owned) return;
  fail(
    'NOT_OWNER',
    `User mismatch: The username in the module config file (${user}) does not match the authenticated user's username (${p.login}); publish under ${p.login}/…, or ask an owner of a ${user}/ module here to add you as an owner`,
  );
}

/** Whether this repo holds any module under `<user>/`. */
async function namespaceExists(registry: Registry, repo: Repo, user: string): Promise<boolean> {
  const prefix = `${user}/`;
  const row = await moonbitDb(registry)
    .selectFrom('moonbit_versions')
    .select('module')
    .where('repo_id', '=', repo.id)
    .where(sql<string>`substr(module, 1, ${prefix.length})`, '=', prefix)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The groups that serve this repo together with other members (whose modules its dependencies may come from). */
function groupsOf(registry: Registry, repo: Repo): Repo[] {
  return [...registry.repos.values()].filter((r) => r.kind === 'group' && r.format === repo.format && r.members?.includes(repo.name));
}

/** Refuses a registry dependency no client could resolve through this repo or a group that serves it. */
async function checkDeps(registry: Registry, repo: Repo, deps: RegistryDep[]): Promise<void> {
  const others = [...new Set(groupsOf(registry, repo).flatMap((g) => g.members ?? []))].filter((m) => m !== repo.name);
  for (const dep of deps) {
    if (dep.module === CORE_MODULE) continue;
    const path = indexPath(dep.module);
    const here = await registry.docs.get(repo.id, path);
    if (here && findVersionLine(here.body, dep.version)) continue;
    let found = false;
    for (const name of others) {
      const doc = await registry.sources.get(name)?.doc(path);
      if (doc && findVersionLine(doc.body, dep.version)) {
        found = true;
        break;
      }
    }
    if (found) continue;
    const where = others.length ? `${repo.name} or the other members of its groups (${others.join(', ')})` : repo.name;
    fail(
      'DEPENDENCY_INVALID',
      `dependency ${dep.module}@${dep.version} is not in ${where}; publish it first, or depend on a version that exists`,
    );
  }
}

/**
 * Dependency confusion (§10.2 rule 2, trap 15): a new user namespace may not be one a proxy in a
 * group with this repo serves (its modules would mix with the upstream's), and no module may take an
 * index file the upstream has.
 */
async function checkConfusion(registry: Registry, repo: Repo, module: string, user: string): Promise<void> {
  const isNew = !(await namespaceExists(registry, repo, user));
  const prefix = `user/${user}/`;
  for (const group of groupsOf(registry, repo)) {
    for (const member of group.members ?? []) {
      const other = registry.repos.get(member);
      const source = registry.sources.get(member);
      if (!other || other.kind !== 'proxy' || !source) continue;
      const { ref } = await source.gitHistory(INDEX_HISTORY);
      const files = (await historyTip(registry.db, ref)).files;
      if (files.has(indexPath(module)))
        fail(
          'NAME_COLLISION',
          `${module} is served by ${member} (a proxy of ${other.upstream ?? 'its upstream'}) in group ${group.name}; publishing it here would shadow or mix with the upstream module: pick another user name`,
        );
      if (!isNew) continue;
      for (const path of files.keys())
        if (path.startsWith(prefix))
          fail(
            'NAME_COLLISION',
            `the user name ${user} exists upstream of ${member} (a proxy of ${other.upstream ?? 'its upstream'}) in group ${group.name}; a hosted module under it would be confused with the upstream's (dependency confusion): pick another user name`,
          );
    }
  }
}

/** Whether the repo holds exactly this publish (committed rows and index file, read fresh): it is a retry of one that succeeded. */
async function isRetry(
  registry: Registry,
  repo: Repo,
  module: string,
  published: { version: string; checksum: string; line: Buffer },
): Promise<boolean> {
  const row = await versionRow(registry.db, repo, module, published.version);
  return row !== undefined && holdsVersion(row, await committedIndexFile(registry.db, repo, module), published);
}

/**
 * Checks a module zip for publishing as `p` and, unless `dryRun`, stores it: the index line
 * (manifest + checksum), the zip, the row and one git commit, in one transaction. Every refusal is a
 * 4xx that changes nothing.
 */
export async function publishModule(registry: Registry, repo: Repo, p: Principal, zip: Buffer, dryRun: boolean): Promise<PublishResult> {
  const checked = await manifestOfZip(registry, zip);
  const module = checked.module.full;
  const { version } = checked;
  await checkNamespace(registry, repo, p, checked.module.user);
  requirePermission(p, 'publish', repo.name, module);
  const ref = moduleRef(repo, module);
  await checkWriter(registry.db, p, ref, await moduleExists(registry.db, repo, module));
  const existing = await versionRow(registry.db, repo, module, version);
  const zipSha256 = sha256Hex(zip);
  const published = { version, checksum: zipSha256, line: indexLineOf(checked.manifest, zipSha256) };
  // A retry of a publish that committed (its answer lost on the way back) is answered as the success it was.
  if (existing && !dryRun && (await isRetry(registry, repo, module, published)))
    return { module, version, checksum: published.checksum, dryRun: false };
  // Early, before the zip is staged; appendVersion checks again under the history lock.
  refuseTakenVersion(
    existing !== undefined,
    existing ? null : ((await registry.docs.get(repo.id, indexPath(module)))?.body ?? null),
    module,
    version,
  );
  await checkDeps(registry, repo, checked.registryDeps);
  await checkConfusion(registry, repo, module, checked.module.user);
  const staged = dryRun ? null : await registry.blobs.stage(Readable.from([zip]), { maxSize: registry.config.limits.maxArchiveSize });
  const checksum = staged?.sha256 ?? sha256Hex(zip);
  if (!staged) return { module, version, checksum, dryRun: true };
  try {
    const appended = await inTransaction(registry, async (uow) => {
      await authorizeWrite(uow.trx, registry.dialect, p, ref, await moduleExists(uow.trx, repo, module));
      const added = await appendVersion(uow, registry, repo, {
        module,
        version,
        line: indexLineOf(checked.manifest, checksum),
        staged,
        description: checked.description,
        publishedBy: p.userId,
        readme: checked.readme,
      });
      // The same version committed by a concurrent attempt of this publish (waited for on the history lock): nothing to record.
      if (!added) return false;
      await audit(uow.trx, {
        userId: p.userId,
        repoId: repo.id,
        action: 'moonbit.publish',
        subject: `${module}@${version}`,
        detail: { checksum, size: staged.size },
      });
      return true;
    });
    if (!appended) await staged.discard();
  } catch (err) {
    await staged.discard();
    if (err instanceof LarderError) throw err;
    // The row of a concurrent attempt got in first: a retry of this publish ends as its success, anything else as before.
    if (isUniqueViolation(err) && (await isRetry(registry, repo, module, published))) return { module, version, checksum, dryRun: false };
    if (isUniqueViolation(err))
      fail(
        'VERSION_EXISTS',
        `Version Error: ${module}@${version} was published at the same moment by another request; publish a new version`,
      );
    throw err;
  }
  return { module, version, checksum, dryRun: false };
}
