import { sql } from 'kysely';
import { fail } from '../core/errors.js';
import type { Db, Dialect, Trx } from '../storage/db.js';
import { prepared } from '../storage/prepared.js';
import { audit } from './audit.js';
import { isAdmin, type Principal } from './auth.js';
import type { Repo } from './repos.js';
import { inTransaction } from './tx.js';

/**
 * A package as ownership sees it: the repo, the format's canonical id (Cargo's normalised crate
 * name, the Bazel module name, the Julia package UUID) and how messages name it.
 */
export interface PackageRef {
  repo: Pick<Repo, 'id' | 'name' | 'format'>;
  /** The key owners are kept under. */
  id: string;
  /** The name people know it by (crate name as published, module name, Julia package name). */
  display: string;
  /** How messages name it, e.g. "crate `foo`" or "module foo". */
  label: string;
  /** What a refused user should do to become an owner, e.g. "ask an owner to run `cargo owner --add …`". */
  addHint?: (login: string) => string;
}

export interface OwnerUser {
  id: number;
  login: string;
  name: string | null;
}

type Store = { db: Db; dialect: Dialect };

/** The owners of a package, ordered by login (an empty list for a package nobody owns yet). */
export async function listOwners(db: Db | Trx, ref: PackageRef): Promise<OwnerUser[]> {
  return db
    .selectFrom('package_owners')
    .innerJoin('users', 'users.id', 'package_owners.user_id')
    .select(['users.id', 'users.login', 'users.name'])
    .where('package_owners.repo_id', '=', ref.repo.id)
    .where('package_owners.package', '=', ref.id)
    .orderBy('users.login')
    .execute();
}

function defaultHint(ref: PackageRef, login: string): string {
  return `ask an owner to add you (PUT /-/api/repos/${ref.repo.name}/packages/${ref.display}/owners with {"users":["${login}"]})`;
}

/** Why `p` may not write `ref`, or null when it may: owners and admins may; a package nobody owns only admins, unless it is new. */
function refusal(p: Principal, ref: PackageRef, owners: number[], exists: boolean): string | null {
  if (isAdmin(p) || owners.includes(p.userId)) return null;
  if (owners.length === 0 && !exists) return null;
  if (owners.length === 0) {
    return `${ref.label} has no owners (it was imported, or published before packages had owners); an admin can add one with \`larder owner add ${ref.repo.name} ${ref.display} ${p.login}\``;
  }
  return `you (${p.login}) are not an owner of ${ref.label}; ${(ref.addHint ?? ((l) => defaultHint(ref, l)))(p.login)}`;
}

const ownerRows = prepared('package owners', (db: Db, p: { repoId: number; package: string }) =>
  db.selectFrom('package_owners').select('user_id').where('repo_id', '=', p.repoId).where('package', '=', p.package),
);

const insertFirstOwner = prepared('package first owner', (db: Db, p: { repoId: number; package: string; userId: number; now: number }) =>
  db
    .insertInto('package_owners')
    .values({ repo_id: p.repoId, package: p.package, user_id: p.userId, created_at: p.now })
    .onConflict((oc) => oc.doNothing()),
);

async function ownerIds(db: Db | Trx, ref: PackageRef): Promise<number[]> {
  const rows = await ownerRows.all(db, { repoId: ref.repo.id, package: ref.id });
  return rows.map((r) => r.user_id);
}

/**
 * Refuses (NOT_OWNER) unless `p` may change `ref`; for early checks before a body is read. The
 * write transaction must still call `authorizeWrite`, which is the check that counts.
 */
export async function checkWriter(db: Db | Trx, p: Principal, ref: PackageRef, exists: boolean): Promise<void> {
  const why = refusal(p, ref, await ownerIds(db, ref), exists);
  if (why) fail('NOT_OWNER', why);
}

/**
 * The ownership check inside a write transaction: refuses non-owners, and makes the publisher of
 * a new package (`exists` false, nobody owns it) its first owner. PostgreSQL serialises the
 * decision per package with an advisory lock so two first publishes cannot both claim it.
 */
export async function authorizeWrite(trx: Trx, dialect: Dialect, p: Principal, ref: PackageRef, exists: boolean): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`${ref.repo.id}:${ref.id}`}))`.execute(trx);
  const owners = await ownerIds(trx, ref);
  const why = refusal(p, ref, owners, exists);
  if (why) fail('NOT_OWNER', why);
  if (owners.length === 0 && !exists) {
    await insertFirstOwner.all(trx, { repoId: ref.repo.id, package: ref.id, userId: p.userId, now: Date.now() });
  }
}

/** Checks a `{"users": [...]}` list: at least one non-empty login. */
export function validateLogins(logins: unknown): asserts logins is string[] {
  if (!Array.isArray(logins) || logins.length === 0 || !logins.every((l) => typeof l === 'string' && l.length > 0)) {
    fail('OWNER_INVALID', 'the request body must be {"users":["login", …]} with at least one user');
  }
}

/**
 * Adds or removes owners by login, in one transaction with its audit entry. `by` is the acting
 * principal (an owner or an admin), or null for the server's operator (the local CLI).
 * The last owner cannot be removed. Returns the owners afterwards. A change that changes nothing (a
 * retried request: the owners are already there, or already gone) writes nothing, not even an audit entry.
 */
export async function changeOwners(
  store: Store,
  by: Principal | null,
  ref: PackageRef,
  logins: unknown,
  add: boolean,
): Promise<OwnerUser[]> {
  validateLogins(logins);
  if (by) await checkWriter(store.db, by, ref, true);
  const users: OwnerUser[] = [];
  for (const login of logins) {
    const user = await store.db.selectFrom('users').select(['id', 'login', 'name']).where('login', '=', login).executeTakeFirst();
    if (!user)
      fail('USER_NOT_FOUND', `there is no user \`${login}\` on this registry; an admin can create it with \`larder user add ${login}\``);
    users.push(user);
  }
  return inTransaction(store, async (uow) => {
    const trx = uow.trx;
    if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`${ref.repo.id}:${ref.id}`}))`.execute(trx);
    const before = await ownerIds(trx, ref);
    if (by) {
      const why = refusal(by, ref, before, true);
      if (why) fail('NOT_OWNER', why);
    }
    let changed = 0n;
    for (const user of users) {
      if (before.includes(user.id) === add) continue;
      if (add) {
        const r = await trx
          .insertInto('package_owners')
          .values({ repo_id: ref.repo.id, package: ref.id, user_id: user.id, created_at: Date.now() })
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        changed += r.numInsertedOrUpdatedRows ?? 0n;
      } else {
        const r = await trx
          .deleteFrom('package_owners')
          .where('repo_id', '=', ref.repo.id)
          .where('package', '=', ref.id)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        changed += r.numDeletedRows;
      }
    }
    const left = await listOwners(trx, ref);
    if (left.length === 0) fail('LAST_OWNER', `${ref.label} must keep at least one owner; add the new owner before removing the last one`);
    // A repeat (adding an owner again, removing one already gone: a retried request) changes nothing, so records nothing.
    if (changed === 0n) return left;
    await audit(trx, {
      userId: by?.userId ?? null,
      repoId: ref.repo.id,
      action: `${ref.repo.format}.owner_${add ? 'add' : 'remove'}`,
      subject: ref.display,
      detail: { package: ref.id, users: logins, ...(by ? {} : { via: 'cli' }) },
    });
    return left;
  });
}
