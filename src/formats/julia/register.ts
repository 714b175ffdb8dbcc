import type { Kysely } from 'kysely';
import type { Database } from '../../storage/schema.js';
import { parse as parseToml } from 'smol-toml';
import { fail, LarderError } from '../../core/errors.js';
import { audit } from '../../registry/audit.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { authorizeWrite, type PackageRef } from '../../registry/owners.js';
import { putReadme } from '../../registry/readmes.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction, type UnitOfWork } from '../../registry/tx.js';
import type { StagedBlob } from '../../storage/blobs.js';
import { compress, loadCompressed } from './compress.js';
import { UUID } from './ids.js';
import {
  trustedRegistriesOf,
  writePackageToml,
  writeRangeTable,
  writeRegistryToml,
  writeVersionsToml,
  type VersionEntry,
} from './registry-toml.js';
import type { JuliaTables } from './schema.js';
import { juliaPackageExists, juliaPackageRef } from './owners.js';
import { readerOfFiles, type RegistryReader } from './package-info.js';
import { readmeOf } from './readme.js';
import { updateJuliaSearchEntries } from './search.js';
import { treeFileData } from './spool.js';
import { STDLIBS } from './stdlibs.js';
import { holdsRegistration, RANGE_FILES, type RangeFile } from './replay.js';
import {
  lockJuliaRepo,
  readRegistryFiles,
  recordCommit,
  recordTarball,
  rewriteRegistries,
  verifiedTarball,
  writeRegistryFiles,
} from './store.js';
import type { FileTree } from './tree-hash.js';
import { compareVersions, parseBound, parseVersion, semverToRegistry } from './versions.js';

/** What a package's Project.toml says, as far as registration needs it. */
export interface ProjectToml {
  name: string;
  uuid: string;
  version: string;
  deps: Record<string, string>;
  weakdeps: Record<string, string>;
  compat: Record<string, string>;
  extras: Record<string, string>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_PROJECT_TOML = 1 << 20;
type Toml = Record<string, unknown>;

function tomlOf(bytes: Buffer, what: string): Toml {
  try {
    return parseToml(bytes.toString('utf8')) as Toml;
  } catch (err) {
    fail('METADATA_INVALID', `${what} does not parse: ${(err as Error).message}`);
  }
}

function stringTable(v: unknown, what: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    fail('METADATA_INVALID', `[${what}] in Project.toml must map names to strings`);
  }
  return v as Record<string, string>;
}

/** Reads and checks Project.toml (or JuliaProject.toml) at the root of a package tree. */
export async function readProject(tree: FileTree): Promise<ProjectToml> {
  const file = tree.get('JuliaProject.toml') ?? tree.get('Project.toml');
  if (!file)
    fail(
      'METADATA_INVALID',
      'the package has no Project.toml at its root (a tarball of the package tree, not of a directory containing it)',
    );
  if ('size' in file && file.size > MAX_PROJECT_TOML)
    fail(
      'METADATA_INVALID',
      `Project.toml is larger than ${MAX_PROJECT_TOML} bytes; it should only name the package, its dependencies and compat`,
    );
  const t = tomlOf(await treeFileData(file), 'Project.toml');
  if (typeof t.name !== 'string' || !IDENTIFIER.test(t.name))
    fail('NAME_INVALID', `Project.toml name ${JSON.stringify(t.name)} is not an ASCII Julia identifier`);
  if (typeof t.uuid !== 'string' || !UUID.test(t.uuid.toLowerCase()))
    fail('METADATA_INVALID', `Project.toml uuid ${JSON.stringify(t.uuid)} is not a UUID`);
  if (typeof t.version !== 'string') fail('VERSION_INVALID', 'Project.toml has no version = "x.y.z"');
  const v = parseVersion(t.version);
  if (v.major === 0 && v.minor === 0 && v.patch === 0)
    fail('VERSION_INVALID', 'version 0.0.0 cannot be registered (version_zero); start at 0.0.1, 0.1.0 or 1.0.0');
  return {
    name: t.name,
    uuid: t.uuid.toLowerCase(),
    version: t.version,
    deps: stringTable(t.deps, 'deps'),
    weakdeps: stringTable(t.weakdeps, 'weakdeps'),
    compat: stringTable(t.compat, 'compat'),
    extras: stringTable(t.extras, 'extras'),
  };
}

/** The conventional place of a package in a registry: `E/Example`, `jll/L/Libfoo_jll`. */
export function packagePath(name: string): string {
  const letter = name[0].toUpperCase();
  return name.endsWith('_jll') ? `jll/${letter}/${name}` : `${letter}/${name}`;
}

interface RegistryState {
  toml: Toml;
  packages: Map<string, { name: string; path: string }>;
}

function registryState(files: Map<string, Buffer>): RegistryState {
  const raw = files.get('Registry.toml');
  if (!raw) fail('INTERNAL', 'the registry has no Registry.toml');
  const toml = tomlOf(raw, 'Registry.toml');
  const packages = new Map(Object.entries((toml.packages ?? {}) as Record<string, { name: string; path: string }>));
  return { toml, packages };
}

function writeRegistry(state: RegistryState): Buffer {
  const {
    name,
    uuid,
    repo,
    description,
    packages: _p,
    ...extra
  } = state.toml as Toml & { name: string; uuid: string; repo?: string; description?: string };
  return Buffer.from(
    writeRegistryToml({
      name,
      uuid,
      repo,
      description,
      extra,
      packages: [...state.packages].map(([u, p]) => ({ uuid: u, name: p.name, path: p.path })),
    }),
  );
}

/** Per-version data of a range file, expanded over the old pool, with the new version's data added. */
function updateRangeFile(
  files: Map<string, Buffer>,
  path: string,
  oldPool: string[],
  newPool: string[],
  version: string,
  data: Record<string, unknown>,
): string {
  const raw = files.get(path);
  const table = raw ? (tomlOf(raw, path) as Record<string, Record<string, unknown>>) : {};
  const perVersion = loadCompressed(table, oldPool);
  if (Object.keys(data).length) perVersion.set(version, data);
  return writeRangeTable(compress(perVersion, newPool));
}

/** Project.toml `[compat]` for the given names, converted to registry ranges (§8.3). */
function compatFor(project: ProjectToml, names: Set<string>, withJulia: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(project.compat)) {
    if (name === 'julia' ? !withJulia : !names.has(name)) continue;
    out[name] = semverToRegistry(spec);
  }
  return out;
}

/** The version's entries in each range file: what a registration writes, and what a retry of it must find. */
function rangesOf(project: ProjectToml): Record<RangeFile, Record<string, unknown>> {
  return {
    'Deps.toml': project.deps,
    'Compat.toml': compatFor(project, new Set(Object.keys(project.deps)), true),
    'WeakDeps.toml': project.weakdeps,
    'WeakCompat.toml': compatFor(project, new Set(Object.keys(project.weakdeps)), false),
  };
}

/** Whether a registration of an existing version repeats it; a request that could never have been registered does not. */
function isRetry(holds: () => boolean): boolean {
  try {
    return holds();
  } catch (err) {
    if (err instanceof LarderError) return false;
    throw err;
  }
}

// AutoMerge's name format for new packages: capitalised, ASCII, with a lower-case letter.
const AUTOMERGE_NAME = /^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*[0-9]?$/;

/**
 * General's AutoMerge rules that hold for every registry: the name format (new packages), a
 * julia compat entry, and an upper-bounded compat entry for every dependency that is not a
 * standard library — without them a new release of a dependency can break every user.
 */
function checkAutoMergeRules(project: ProjectToml, isNew: boolean): void {
  if (isNew && !AUTOMERGE_NAME.test(project.name)) {
    fail(
      'NAME_INVALID',
      `package name ${project.name} does not follow the naming rules: start with an upper-case letter, use only ASCII letters and digits, include a lower-case letter`,
    );
  }
  const bounded = (name: string) => {
    const spec = project.compat[name];
    if (spec === undefined)
      fail(
        'DEPENDENCY_INVALID',
        `[compat] has no entry for ${name}; add one (for example ${name === 'julia' ? 'julia = "1.6"' : `${name} = "1"`})`,
      );
    const ranges = semverToRegistry(spec);
    if ((Array.isArray(ranges) ? ranges : [ranges]).some((r) => r === '*' || r.endsWith('-*'))) {
      fail(
        'DEPENDENCY_INVALID',
        `[compat] ${name} = "${spec}" has no upper bound; bound it (for example "${name === 'julia' ? '1' : '0.5, 1'}")`,
      );
    }
  };
  bounded('julia');
  for (const name of [...Object.keys(project.deps), ...Object.keys(project.weakdeps)]) if (!(name in STDLIBS)) bounded(name);
}

export interface RegistrationResult {
  /** The package registered: its name and UUID (what artifacts sent with it belong to). */
  name: string;
  uuid: string;
  registryTree: string;
  packageTree: string;
  path: string;
}

/**
 * Registers one version of a package in a hosted registry with RegistryTools' semantics
 * (protocols/julia.md §10): registry files rewritten (ranges recompressed), a new registry tree
 * and tarball, the package tarball stored by tree hash, `/registries` updated — in one transaction.
 */
export async function registerPackage(
  registry: Registry,
  repo: Repo,
  p: Principal,
  registryUuid: string,
  tree: FileTree,
  opts: { repoUrl?: string; baseUrl: string; trustedRegistries?: string[] },
): Promise<RegistrationResult> {
  const project = await readProject(tree);
  for (const u of opts.trustedRegistries ?? [])
    if (!UUID.test(u)) fail('METADATA_INVALID', `trusted_registries: ${JSON.stringify(u)} is not a lower-case registry UUID`);
  // Package.toml needs a repo (RegistryCI requires it; Pkg only falls back to it): one under Larder's URL by default.
  const repoUrl = opts.repoUrl ?? `${opts.baseUrl.replace(/\/+$/, '')}/${repo.name}/packages/${project.name}.jl.git`;
  requirePermission(p, 'publish', repo.name, project.name);
  for (const [rel, f] of tree)
    if (rel === '.gitmodules' && f.kind === 'file')
      fail('ARCHIVE_INVALID', 'the package has git submodules (.gitmodules); their contents cannot be reproduced from a tarball');
  const names = new Set([...Object.keys(project.deps), ...Object.keys(project.weakdeps)]);
  for (const name of Object.keys(project.compat)) {
    if (name !== 'julia' && !names.has(name) && !(name in project.extras))
      fail('DEPENDENCY_INVALID', `[compat] names ${name}, which is not in [deps], [weakdeps] or [extras] (invalid_compat)`);
  }
  const juliaCompat = project.compat.julia;
  if (juliaCompat !== undefined) {
    const ranges = semverToRegistry(juliaCompat);
    for (const r of Array.isArray(ranges) ? ranges : [ranges]) {
      const lo = parseBound(r.split('-')[0]);
      if (lo.n > 0 && (lo.t[0] < 0 || (lo.t[0] === 0 && lo.t[1] < 7)))
        fail('DEPENDENCY_INVALID', `julia compat "${juliaCompat}" reaches below 0.7 (julia_before_07_in_compat); require julia 1.x`);
    }
  }
  const readme = await readmeOf(tree);
  const pkgTarball = await verifiedTarball(registry, tree);
  const staged: StagedBlob[] = [pkgTarball.staged];

  const outcome = await discardOnFailure(staged, () =>
    inTransaction(registry, async (uow) => {
      const trx = uow.trx.withTables<JuliaTables>();
      // Before reading the registry: a concurrent registration (a retry of this one on another node) commits first, and is seen.
      await lockJuliaRepo(registry, uow, repo);
      const reg = await registryRow(trx, repo, registryUuid);
      const files = await readRegistryFiles(uow, repo, registryUuid);
      const state = registryState(files);

      const existing = state.packages.get(project.uuid);
      if (existing && existing.name !== project.name)
        fail('NAME_INVALID', `package ${project.uuid} is registered as ${existing.name}, not ${project.name} (change_package_name)`);
      await authorizeWrite(
        uow.trx,
        registry.dialect,
        p,
        juliaPackageRef(repo, project.uuid, project.name),
        existing !== undefined || (await juliaPackageExists(uow.trx, repo, project.uuid)),
      );
      if (!existing) {
        for (const [u, other] of state.packages) {
          if (other.name.toLowerCase() === project.name.toLowerCase())
            fail(
              'NAME_COLLISION',
              `the name ${project.name} is taken by package ${u}${other.name !== project.name ? ` (as ${other.name})` : ''} (change_package_uuid)`,
            );
        }
        if (Object.values(STDLIBS).includes(project.uuid) || project.name in STDLIBS)
          fail('NAME_COLLISION', `${project.name} / ${project.uuid} is a Julia standard library`);
      }
      const path = existing?.path ?? packagePath(project.name);
      if (!existing && [...state.packages.values()].some((o) => o.path.toLowerCase() === path.toLowerCase()))
        fail('NAME_COLLISION', `the registry path ${path} is taken`);

      // Dependencies: this registry, a registry it names in depends_on (same name and UUID), or a standard library.
      const declared = new Map<string, { name: string; path: string }>();
      for (const dep of JSON.parse(reg.depends_on) as string[]) {
        for (const [u, pkg] of registryState(await readRegistryFiles(uow, repo, dep)).packages) declared.set(u, pkg);
      }
      for (const [name, uuid] of Object.entries({ ...project.deps, ...project.weakdeps })) {
        if (uuid === project.uuid) fail('DEPENDENCY_INVALID', `${project.name} depends on itself (package_self_dep)`);
        if (name in STDLIBS) {
          if (STDLIBS[name] !== uuid)
            fail('DEPENDENCY_INVALID', `${name} is a standard library with UUID ${STDLIBS[name]}, not ${uuid} (wrong_stdlib_uuid)`);
          continue;
        }
        const known = state.packages.get(uuid) ?? declared.get(uuid);
        if (!known)
          fail(
            'DEPENDENCY_INVALID',
            `dependency ${name} (${uuid}) is not in this registry or the registries it depends on (depends_on); register it first (dependency_not_found)`,
          );
        if (known.name !== name)
          fail('DEPENDENCY_INVALID', `dependency ${uuid} is registered as ${known.name}, not ${name} (name_mismatch)`);
      }

      const versionsPath = `${path}/Versions.toml`;
      const versionsToml = files.get(versionsPath)
        ? (tomlOf(files.get(versionsPath)!, versionsPath) as Record<string, { 'git-tree-sha1': string; yanked?: boolean }>)
        : {};
      const oldPool = Object.keys(versionsToml);
      if (oldPool.some((v) => compareVersions(v, project.version) === 0)) {
        // A retry of a registration that committed: the same answer, nothing written (a yank made since stays).
        const write = () => ({
          version: project.version,
          treeHash: pkgTarball.treeHash,
          ranges: rangesOf(project),
          repoUrl,
          trustedRegistries: opts.trustedRegistries,
        });
        if (isRetry(() => holdsRegistration(files, path, write()))) {
          const result = { name: project.name, uuid: project.uuid, registryTree: reg.tree_hash, packageTree: pkgTarball.treeHash, path };
          return { result, replayed: true };
        }
        fail(
          'VERSION_EXISTS',
          `${project.name} ${project.version} is already registered (version_exists); bump the version in Project.toml`,
        );
      }
      if (oldPool.length && oldPool.every((v) => compareVersions(v, project.version) > 0)) {
        fail(
          'VERSION_INVALID',
          `${project.version} is lower than every registered version of ${project.name} (version_less_than_all_existing)`,
        );
      }
      const entries: VersionEntry[] = [
        ...Object.entries(versionsToml).map(([version, e]) => ({ version, treeSha1: e['git-tree-sha1'], yanked: e.yanked === true })),
        { version: project.version, treeSha1: pkgTarball.treeHash },
      ];
      const newPool = [...oldPool, project.version];

      const updated = new Map(files);
      const set = (rel: string, text: string) => updated.set(rel, Buffer.from(text));
      const packageTomlPath = `${path}/Package.toml`;
      if (!existing) {
        state.packages.set(project.uuid, { name: project.name, path });
        set('Registry.toml', writeRegistry(state).toString());
        set(
          packageTomlPath,
          writePackageToml({ name: project.name, uuid: project.uuid, repo: repoUrl, trustedRegistries: opts.trustedRegistries }),
        );
      } else if (opts.trustedRegistries !== undefined) {
        // trusted_registries is kept by later registrations unless one sets it (an empty list removes it).
        const current = files.get(packageTomlPath) ? tomlOf(files.get(packageTomlPath)!, packageTomlPath) : {};
        if (trustedRegistriesOf(current).join() !== opts.trustedRegistries.join()) {
          set(
            packageTomlPath,
            writePackageToml({
              name: project.name,
              uuid: project.uuid,
              repo: typeof current.repo === 'string' ? current.repo : repoUrl,
              subdir: typeof current.subdir === 'string' ? current.subdir : undefined,
              trustedRegistries: opts.trustedRegistries,
              extra: current,
            }),
          );
        }
      }
      set(versionsPath, writeVersionsToml(entries));
      const ranges = rangesOf(project);
      for (const file of RANGE_FILES) {
        const text = updateRangeFile(files, `${path}/${file}`, oldPool, newPool, project.version, ranges[file]);
        // Deps.toml and Compat.toml are always written (empty too), as RegistryTools does; the weak ones only with entries.
        if (text || file === 'Deps.toml' || file === 'Compat.toml') set(`${path}/${file}`, text);
        else updated.delete(`${path}/${file}`);
      }

      checkAutoMergeRules(project, !existing);

      await recordTarball(registry, uow, repo, 'package', project.uuid, pkgTarball);
      const regTarball = await replaceRegistryTree(
        registry,
        uow,
        repo,
        reg.id,
        { registryUuid, files, updated, staged },
        `New version: ${project.name} v${project.version}\n\nUUID: ${project.uuid}\nRepo: ${repoUrl}\nTree: ${pkgTarball.treeHash}`,
      );
      await updateJuliaSearchEntries(registry, uow, repo, [project.uuid], changedRegistry(registryUuid, updated));
      if (readme !== null) await putReadme(uow.trx, { repoId: repo.id, package: project.uuid, version: project.version, markdown: readme });
      await audit(uow.trx, {
        userId: p.userId,
        repoId: repo.id,
        action: 'julia.register',
        subject: `${project.name}@${project.version}`,
        detail: { tree: pkgTarball.treeHash, registry: registryUuid },
      });
      const result = { name: project.name, uuid: project.uuid, registryTree: regTarball.treeHash, packageTree: pkgTarball.treeHash, path };
      return { result, replayed: false };
    }),
  );
  if (outcome.replayed) await pkgTarball.staged.discard();
  return outcome.result;
}

/**
 * Makes `updated` the registry's new tree inside the transaction: its tarball verified and staged,
 * its files and tree hash written, `/registries` rewritten and a commit recorded (the blob is stored
 * when the transaction commits).
 */
async function replaceRegistryTree(
  registry: Registry,
  uow: UnitOfWork,
  repo: Repo,
  registryId: number,
  change: { registryUuid: string; files: Map<string, Buffer>; updated: Map<string, Buffer>; staged: StagedBlob[] },
  message: string,
): Promise<{ treeHash: string }> {
  const tree: FileTree = new Map([...change.updated].map(([rel, data]) => [rel, { kind: 'file' as const, data }]));
  const tarball = await verifiedTarball(registry, tree);
  change.staged.push(tarball.staged);
  await writeRegistryFiles(registry, uow, repo, change.registryUuid, tree, change.files);
  await uow.trx
    .withTables<JuliaTables>()
    .updateTable('julia_registries')
    .set({ tree_hash: tarball.treeHash, updated_at: Date.now() })
    .where('id', '=', registryId)
    .execute();
  await recordTarball(registry, uow, repo, 'registry', change.registryUuid, tarball);
  await rewriteRegistries(registry, uow, repo);
  await recordCommit(uow, repo, change.registryUuid, tarball.treeHash, message);
  return { treeHash: tarball.treeHash };
}

/** The row of a registry this repo holds, or the 404 that names it. */
async function registryRow(trx: Kysely<Database & JuliaTables>, repo: Repo, registryUuid: string) {
  const reg = await trx
    .selectFrom('julia_registries')
    .selectAll()
    .where('repo_id', '=', repo.id)
    .where('uuid', '=', registryUuid)
    .executeTakeFirst();
  if (!reg) fail('PACKAGE_NOT_FOUND', `no registry ${registryUuid} in ${repo.name}`);
  return reg;
}

/** The registry a write is changing, as search reads it (its new files, before anything else sees them). */
function changedRegistry(registryUuid: string, files: Map<string, Buffer>): Map<string, RegistryReader> {
  const reader = readerOfFiles(files);
  return new Map(reader ? [[registryUuid, reader]] : []);
}

/** Runs `work`; if it fails, the blobs it staged (and never committed) are removed. */
async function discardOnFailure<T>(staged: StagedBlob[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    for (const s of staged) await s.discard();
    throw err;
  }
}

/** Creates an empty registry (Registry.toml only) in a hosted repo. */
export async function createRegistry(
  registry: Registry,
  repo: Repo,
  p: Principal,
  r: { name: string; uuid: string; description?: string; repoUrl?: string; dependsOn?: string[] },
): Promise<string> {
  requirePermission(p, 'admin', repo.name);
  if (!IDENTIFIER.test(r.name)) fail('NAME_INVALID', `registry name ${JSON.stringify(r.name)} must be an identifier like MyRegistry`);
  if (!UUID.test(r.uuid)) fail('METADATA_INVALID', `registry uuid ${JSON.stringify(r.uuid)} must be a lower-case UUID`);
  const tree: FileTree = new Map([
    [
      'Registry.toml',
      {
        kind: 'file',
        data: Buffer.from(writeRegistryToml({ name: r.name, uuid: r.uuid, repo: r.repoUrl, description: r.description, packages: [] })),
      },
    ],
  ]);
  const tarball = await verifiedTarball(registry, tree);
  return discardOnFailure([tarball.staged], () =>
    inTransaction(registry, async (uow) => {
      const trx = uow.trx.withTables<JuliaTables>();
      await lockJuliaRepo(registry, uow, repo);
      const taken = await trx
        .selectFrom('julia_registries')
        .select(['uuid', 'name', 'depends_on'])
        .where('repo_id', '=', repo.id)
        .execute();
      const same = taken.find((t) => t.uuid === r.uuid && t.name === r.name);
      if (same && (await createdAs(uow, repo, r.uuid, tarball.treeHash)) && same.depends_on === JSON.stringify(r.dependsOn ?? [])) {
        // A retried creation: the same answer, nothing written (packages registered since stay).
        await tarball.staged.discard();
        return tarball.treeHash;
      }
      if (taken.some((t) => t.uuid === r.uuid || t.name === r.name))
        fail('NAME_COLLISION', `a registry named ${r.name} or with uuid ${r.uuid} already exists in ${repo.name}`);
      for (const dep of r.dependsOn ?? []) {
        if (!taken.some((t) => t.uuid === dep))
          fail('DEPENDENCY_INVALID', `depends_on names ${dep}, which is not a registry in ${repo.name}`);
      }
      await trx
        .insertInto('julia_registries')
        .values({
          repo_id: repo.id,
          uuid: r.uuid,
          name: r.name,
          tree_hash: tarball.treeHash,
          updated_at: Date.now(),
          depends_on: JSON.stringify(r.dependsOn ?? []),
        })
        .execute();
      await writeRegistryFiles(registry, uow, repo, r.uuid, tree, new Map());
      await recordTarball(registry, uow, repo, 'registry', r.uuid, tarball);
      await rewriteRegistries(registry, uow, repo);
      await recordCommit(uow, repo, r.uuid, tarball.treeHash, `Create registry ${r.name}`);
      await audit(uow.trx, {
        userId: p.userId,
        repoId: repo.id,
        action: 'julia.registry_create',
        subject: r.name,
        detail: { uuid: r.uuid },
      });
      return tarball.treeHash;
    }),
  );
}

/**
 * Whether a registry began as `tree`: its first recorded commit (the creation) has that tree, so it was
 * created with the same Registry.toml (name, uuid, repo, description). An imported registry began otherwise.
 */
async function createdAs(uow: UnitOfWork, repo: Repo, uuid: string, tree: string): Promise<boolean> {
  const first = await uow.trx
    .selectFrom('git_history')
    .select('tree')
    .where('repo_id', '=', repo.id)
    .where('history', '=', uuid)
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return first?.tree === tree;
}

/**
 * Sets or clears `yanked = true` on one version: a new registry tree, tarball and `/registries` line. A yank's
 * reason is kept in Larder's rows (Versions.toml has no place for it) and dropped by the unyank.
 */
export async function setJuliaYanked(
  registry: Registry,
  repo: Repo,
  p: Principal,
  registryUuid: string,
  name: string,
  version: string,
  yanked: boolean,
  reason: string | null = null,
): Promise<string> {
  requirePermission(p, 'yank', repo.name, name);
  const staged: StagedBlob[] = [];
  return discardOnFailure(staged, () =>
    inTransaction(registry, async (uow) => {
      const trx = uow.trx.withTables<JuliaTables>();
      await lockJuliaRepo(registry, uow, repo);
      const reg = await registryRow(trx, repo, registryUuid);
      const files = await readRegistryFiles(uow, repo, registryUuid);
      const [uuid, pkg] = [...registryState(files).packages].find(([, x]) => x.name === name) ?? [];
      if (!pkg || !uuid) fail('PACKAGE_NOT_FOUND', `no package ${name} in registry ${reg.name}`);
      await authorizeWrite(uow.trx, registry.dialect, p, juliaPackageRef(repo, uuid, name), true);
      const versionsPath = `${pkg.path}/Versions.toml`;
      const table = tomlOf(files.get(versionsPath) ?? Buffer.alloc(0), versionsPath) as Record<
        string,
        { 'git-tree-sha1': string; yanked?: boolean }
      >;
      const key = Object.keys(table).find((v) => v === version);
      if (!key) fail('VERSION_NOT_FOUND', `${name} has no version ${version}`);
      const wasYanked = table[key].yanked === true;
      // A repeated yank keeps its reason unless it gives a new one; an unyank drops it.
      if (reason !== null || wasYanked !== yanked)
        await recordYankReason(uow, { repoId: repo.id, registryUuid, packageUuid: uuid, version: key }, yanked ? reason : null);
      if (wasYanked === yanked) return reg.tree_hash;
      const entries = Object.entries(table).map(([v, e]) => ({
        version: v,
        treeSha1: e['git-tree-sha1'],
        yanked: v === key ? yanked : e.yanked === true,
      }));
      const updated = new Map(files).set(versionsPath, Buffer.from(writeVersionsToml(entries)));
      const tarball = await replaceRegistryTree(
        registry,
        uow,
        repo,
        reg.id,
        { registryUuid, files, updated, staged },
        `${yanked ? 'Yank' : 'Unyank'}: ${name} v${version}`,
      );
      await updateJuliaSearchEntries(registry, uow, repo, [uuid], changedRegistry(registryUuid, updated));
      await audit(uow.trx, {
        userId: p.userId,
        repoId: repo.id,
        action: yanked ? 'julia.yank' : 'julia.unyank',
        subject: `${name}@${version}`,
        detail: reason !== null && yanked ? { reason } : undefined,
      });
      return tarball.treeHash;
    }),
  );
}

/** Keeps (or, with null, removes) the reason a version is yanked. */
async function recordYankReason(
  uow: UnitOfWork,
  ref: { repoId: number; registryUuid: string; packageUuid: string; version: string },
  reason: string | null,
): Promise<void> {
  const trx = uow.trx.withTables<JuliaTables>();
  const key = { repo_id: ref.repoId, registry_uuid: ref.registryUuid, package_uuid: ref.packageUuid, version: ref.version };
  if (reason === null) {
    await trx
      .deleteFrom('julia_yank_reasons')
      .where('repo_id', '=', key.repo_id)
      .where('registry_uuid', '=', key.registry_uuid)
      .where('package_uuid', '=', key.package_uuid)
      .where('version', '=', key.version)
      .execute();
    return;
  }
  const held = await trx
    .selectFrom('julia_yank_reasons')
    .select('reason')
    .where('repo_id', '=', key.repo_id)
    .where('registry_uuid', '=', key.registry_uuid)
    .where('package_uuid', '=', key.package_uuid)
    .where('version', '=', key.version)
    .executeTakeFirst();
  // A yank repeated with the reason it has (a retried request) changes nothing, not even the time.
  if (held?.reason === reason) return;
  const row = { reason, yanked_at: Date.now() };
  await trx
    .insertInto('julia_yank_reasons')
    .values({ ...key, ...row })
    .onConflict((oc) => oc.columns(['repo_id', 'registry_uuid', 'package_uuid', 'version']).doUpdateSet(row))
    .execute();
}

/**
 * Stores an artifact tarball by its tree hash (what Artifacts.toml's git-tree-sha1 names), for a
 * package the principal may publish and owns: artifacts are served to everyone who installs it.
 */
export async function storeArtifact(registry: Registry, repo: Repo, p: Principal, pkg: PackageRef, tree: FileTree): Promise<string> {
  requirePermission(p, 'publish', repo.name, pkg.display);
  if (tree.size === 0) fail('ARCHIVE_INVALID', 'the artifact is empty');
  const tarball = await verifiedTarball(registry, tree);
  await discardOnFailure([tarball.staged], () =>
    inTransaction(registry, async (uow) => {
      await authorizeWrite(uow.trx, registry.dialect, p, pkg, true);
      // An artifact the repo holds (sent again, or by a retried registration) is kept as it is: nothing to record.
      if (!(await recordTarball(registry, uow, repo, 'artifact', '', tarball))) return;
      await audit(uow.trx, {
        userId: p.userId,
        repoId: repo.id,
        action: 'julia.artifact',
        subject: tarball.treeHash,
        detail: { package: pkg.id },
      });
    }),
  );
  return tarball.treeHash;
}
