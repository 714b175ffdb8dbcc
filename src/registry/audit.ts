import { sql } from 'kysely';
import type { Trx, Db } from '../storage/db.js';
import { prepared } from '../storage/prepared.js';

export interface AuditEntry {
  userId: number | null;
  repoId: number | null;
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}

/** Appends to the audit trail, inside the transaction of the change it records. */
export async function audit(db: Trx | Db, entry: AuditEntry): Promise<void> {
  await insertAudit.all(db, {
    at: Date.now(),
    userId: entry.userId,
    repoId: entry.repoId,
    action: entry.action,
    subject: entry.subject,
    detail: entry.detail ? JSON.stringify(entry.detail) : null,
  });
}

const insertAudit = prepared(
  'audit insert',
  (db: Db, p: { at: number; userId: number | null; repoId: number | null; action: string; subject: string; detail: string | null }) =>
    db
      .insertInto('audit_log')
      .values({ at: p.at, user_id: p.userId, repo_id: p.repoId, action: p.action, subject: p.subject, detail: p.detail }),
);

/** What the admin's audit page filters by; every field narrows, none means everything. */
export interface AuditFilter {
  /** The acting user's login. */
  actor?: string;
  /** A subject as recorded (a module, a tree hash), or a package name, which also matches its `name@version` subjects. */
  subject?: string;
  action?: string;
  repoId?: number;
  /** Entries of these repos only, plus those of no repo (the repos the viewer may read). */
  visibleRepoIds: readonly number[];
  /** Entries older than this id (the next page). */
  before?: number;
  limit: number;
}

export interface AuditRow {
  id: number;
  at: number;
  login: string | null;
  repoId: number | null;
  action: string;
  subject: string;
  detail: string | null;
}

/** Audit entries newest first, one page of them (keyset: pass the last id as `before` for the next). */
export async function listAudit(db: Db, filter: AuditFilter): Promise<AuditRow[]> {
  let q = db
    .selectFrom('audit_log as a')
    .leftJoin('users as u', 'u.id', 'a.user_id')
    .select(['a.id', 'a.at', 'u.login', 'a.repo_id', 'a.action', 'a.subject', 'a.detail'])
    .where((eb) =>
      filter.visibleRepoIds.length > 0
        ? eb.or([eb('a.repo_id', 'is', null), eb('a.repo_id', 'in', [...filter.visibleRepoIds])])
        : eb('a.repo_id', 'is', null),
    );
  if (filter.actor) q = q.where('u.login', '=', filter.actor);
  if (filter.subject) {
    const versions = `${filter.subject.replace(/[\\%_]/g, (c) => `\\${c}`)}@%`;
    const subject = filter.subject;
    q = q.where((eb) => eb.or([eb('a.subject', '=', subject), sql<boolean>`${eb.ref('a.subject')} like ${versions} escape '\\'`]));
  }
  if (filter.action) q = q.where('a.action', '=', filter.action);
  if (filter.repoId !== undefined) q = q.where('a.repo_id', '=', filter.repoId);
  if (filter.before !== undefined) q = q.where('a.id', '<', filter.before);
  const rows = await q.orderBy('a.id', 'desc').limit(filter.limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    login: r.login,
    repoId: r.repo_id === null ? null : Number(r.repo_id),
    action: r.action,
    subject: r.subject,
    detail: r.detail,
  }));
}
