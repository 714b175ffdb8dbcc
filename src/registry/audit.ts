import type { Trx, Db } from '../storage/db.js';

export interface AuditEntry {
  userId: number | null;
  repoId: number | null;
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}

/** Appends to the audit trail, inside the transaction of the change it records. */
export async function audit(db: Trx | Db, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: Date.now(),
      user_id: entry.userId,
      repo_id: entry.repoId,
      action: entry.action,
      subject: entry.subject,
      detail: entry.detail ? JSON.stringify(entry.detail) : null,
    })
    .execute();
}
