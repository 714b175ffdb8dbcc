/**
 * Yanking (protocols/moonbit.md §8.4, §14.3–4): the status and its reason are kept in
 * `moonbit_versions` and published as `yanked.json` at the index root, in the shape mirrors of
 * mooncakes publish it. Index lines are never edited: moon does not read `yanked` from them.
 */
import { fail } from '../../core/errors.js';
import { audit } from '../../registry/audit.js';
import { requirePermission, type Principal } from '../../registry/auth.js';
import { authorizeWrite } from '../../registry/owners.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { inTransaction, type UnitOfWork } from '../../registry/tx.js';
import { moduleRef } from './owners.js';
import { updateSearchEntry } from './search.js';
import { writeIndexFiles, type MoonbitTables } from './store.js';
import { YANKED_PATH } from './names.js';

/** A yank or unyank: one version, or (`version` null) every version of the module. */
export interface YankRequest {
  module: string;
  version: string | null;
  yanked: boolean;
  reason: string | null;
}

/** A row as yanked.json is built from it. */
export interface YankRow {
  module: string;
  version: string;
  yanked: number;
  yanked_reason: string | null;
  yanked_at: number | null;
}

/**
 * yanked.json from the rows: the yanked versions by module and version, and `generatedAt` the
 * latest yank or unyank (not the time of reading), so the document is a function of the rows.
 */
export function yankedJson(rows: YankRow[]): Buffer {
  const yanked = rows
    .filter((r) => r.yanked)
    .sort((a, b) => cmp(a.module, b.module) || cmp(a.version, b.version))
    .map((r) => ({ name: r.module, version: r.version, reason: r.yanked_reason ?? '' }));
  const latest = Math.max(0, ...rows.map((r) => Number(r.yanked_at ?? 0)));
  const generatedAt = new Date(latest).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return Buffer.from(`${JSON.stringify({ yankedPackages: yanked, count: yanked.length, generatedAt }, null, 2)}\n`);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Rewrites yanked.json from the repo's rows inside the caller's transaction (one commit when it changed). */
async function writeYanked(uow: UnitOfWork, registry: Registry, repo: Repo, message: string): Promise<void> {
  const rows = await uow.trx
    .withTables<MoonbitTables>()
    .selectFrom('moonbit_versions')
    .select(['module', 'version', 'yanked', 'yanked_reason', 'yanked_at'])
    .where('repo_id', '=', repo.id)
    // Imported yanks have no time of their own; they stay listed.
    .where((eb) => eb.or([eb('yanked', '=', 1), eb('yanked_at', 'is not', null)]))
    .execute();
  await writeIndexFiles(uow, registry, repo, [{ path: YANKED_PATH, body: yankedJson(rows) }], message);
}

/**
 * Yanks or unyanks a version (or every version) of a module as `p`: owners and admins with the
 * `yank` scope. Returns the versions it applies to. Versions already in the state asked for (a retried
 * request) are left alone; when none changes, nothing is written: no row, yanked.json, commit or audit entry.
 */
export async function setYanked(registry: Registry, repo: Repo, p: Principal, req: YankRequest): Promise<string[]> {
  requirePermission(p, 'yank', repo.name, req.module);
  return inTransaction(registry, async (uow) => {
    const trx = uow.trx.withTables<MoonbitTables>();
    const matching = () => {
      let q = trx
        .selectFrom('moonbit_versions')
        .select(['version', 'yanked', 'yanked_reason'])
        .where('repo_id', '=', repo.id)
        .where('module', '=', req.module);
      if (req.version !== null) q = q.where('version', '=', req.version);
      return q.execute();
    };
    if ((await matching()).length === 0)
      fail(
        req.version === null ? 'PACKAGE_NOT_FOUND' : 'VERSION_NOT_FOUND',
        req.version === null ? `module ${req.module} is not in ${repo.name}` : `${req.module}@${req.version} is not in ${repo.name}`,
      );
    await authorizeWrite(uow.trx, registry.dialect, p, moduleRef(repo, req.module), true);
    // Read under the module's lock (authorizeWrite's, on PostgreSQL): a concurrent attempt of this request has committed by now.
    const rows = await matching();
    const reason = req.yanked ? req.reason : null;
    const changing = rows
      .filter((r) => Number(r.yanked) !== (req.yanked ? 1 : 0) || (r.yanked_reason ?? null) !== reason)
      .map((r) => r.version);
    const versions = rows.map((r) => r.version);
    if (changing.length === 0) return versions;
    let u = trx
      .updateTable('moonbit_versions')
      .set({ yanked: req.yanked ? 1 : 0, yanked_reason: reason, yanked_at: Date.now() })
      .where('repo_id', '=', repo.id)
      .where('module', '=', req.module);
    if (changing.length < rows.length) u = u.where('version', 'in', changing);
    else if (req.version !== null) u = u.where('version', '=', req.version);
    await u.execute();
    const what = req.version === null ? req.module : `${req.module}@${req.version}`;
    await writeYanked(uow, registry, repo, `${req.yanked ? 'Yank' : 'Unyank'} ${what}`);
    // Search lists the newest version not yanked, and nothing once every version is.
    await updateSearchEntry(uow, registry, repo, req.module);
    await audit(uow.trx, {
      userId: p.userId,
      repoId: repo.id,
      action: req.yanked ? 'moonbit.yank' : 'moonbit.unyank',
      subject: what,
      detail: req.reason ? { reason: req.reason } : undefined,
    });
    return versions;
  });
}
