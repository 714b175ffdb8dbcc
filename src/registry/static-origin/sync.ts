/** `larder static-origin sync`: makes a static origin's tree equal what the database says, whatever happened to it. */
import { createHash } from 'node:crypto';
import type { Db } from '../../storage/db.js';
import type { StaticOrigin } from './origin.js';

/** What a sync did. */
export interface StaticSyncResult {
  /** Files written because they were missing or held other bytes. */
  written: number;
  /** Files that already held the document's bytes. */
  unchanged: number;
  /** Files no document is served at (left by a deleted document, an interrupted write, or anyone else). */
  deleted: number;
}

const PAGE = 500;

/**
 * Lists the target, compares every file a document is served at with the document's bytes, deletes strays first
 * (a stray file may stand where a directory must go), then writes what differs through the same refresh a commit
 * uses, so a publish racing the sync is never overwritten by older bytes.
 */
export async function syncStaticOrigin(
  db: Db,
  origin: StaticOrigin,
  progress: (done: number, total: number) => void = () => {},
): Promise<StaticSyncResult> {
  const held = new Map<string, string>();
  for await (const file of origin.target.list()) held.set(file.path, file.md5);
  const { n } = await db
    .selectFrom('index_docs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('repo_id', '=', origin.repo.id)
    .executeTakeFirstOrThrow();
  const total = Number(n);
  const expected = new Set<string>();
  const stale: string[] = [];
  let unchanged = 0;
  let written = 0;
  let done = 0;
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('index_docs')
      .select(['path', 'body'])
      .where('repo_id', '=', origin.repo.id)
      .where('path', '>', after)
      .orderBy('path')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const paths = origin.pathsOf(row.path);
      const md5 = paths.length ? createHash('md5').update(row.body).digest('hex') : '';
      for (const p of paths) expected.add(p);
      const differing = paths.filter((p) => held.get(p) !== md5).length;
      if (differing > 0) stale.push(row.path);
      written += differing;
      unchanged += paths.length - differing;
    }
    done += rows.length;
    progress(done, total);
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.path;
  }
  const strays = [...held.keys()].filter((p) => !expected.has(p));
  for (const p of strays) await origin.target.delete(p);
  for (const docPath of stale) await origin.refresh(docPath);
  return { written, unchanged, deleted: strays.length };
}
