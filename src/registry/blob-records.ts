import type { StagedBlob } from '../storage/blobs.js';
import type { UnitOfWork } from './tx.js';

/**
 * Stores a staged blob as part of `uow`: records it in `blobs` (what `larder gc` keeps; idempotent) now,
 * and moves it to its content address right before the transaction commits, so a crash leaves at worst
 * an unreferenced blob for gc, never a row naming a missing blob. The caller discards it on failure.
 */
export async function storeBlob(uow: UnitOfWork, staged: StagedBlob): Promise<void> {
  await uow.trx
    .insertInto('blobs')
    .values({ sha256: staged.sha256, size: staged.size, created_at: Date.now() })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute();
  uow.beforeCommit(() => staged.commit());
}
