import type { StagedBlob } from '../storage/blobs.js';
import type { Db } from '../storage/db.js';
import { prepared } from '../storage/prepared.js';
import type { UnitOfWork } from './tx.js';

/**
 * Stores a staged blob as part of `uow`: records it in `blobs` (what `larder gc` keeps; idempotent) now,
 * and moves it to its content address right before the transaction commits, so a crash leaves at worst
 * an unreferenced blob for gc, never a row naming a missing blob. The caller discards it on failure.
 */
export async function storeBlob(uow: UnitOfWork, staged: StagedBlob): Promise<void> {
  await insertBlob.all(uow.trx, { sha256: staged.sha256, size: staged.size, now: Date.now() });
  uow.beforeCommit(() => staged.commit());
}

const insertBlob = prepared('blob record', (db: Db, p: { sha256: string; size: number; now: number }) =>
  db
    .insertInto('blobs')
    .values({ sha256: p.sha256, size: p.size, created_at: p.now })
    .onConflict((oc) => oc.column('sha256').doNothing()),
);
