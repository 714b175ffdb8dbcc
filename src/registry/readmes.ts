/**
 * READMEs extracted at publish time (Cargo's publish metadata, Julia package trees, MoonBit zips), kept per
 * version as Markdown. The web UI renders and sanitises them when shown; storing the source means a change to
 * the sanitiser applies to every README at once.
 */
import type { Db, Trx } from '../storage/db.js';
import { prepared } from '../storage/prepared.js';

/** The largest README kept, in UTF-16 code units; the rest is cut with a note (crates.io caps at a similar size). */
export const MAX_README_LENGTH = 512 * 1024;

/** Records the README of one version inside the publishing transaction (replacing a previous one). */
export async function putReadme(trx: Trx, readme: { repoId: number; package: string; version: string; markdown: string }): Promise<void> {
  const markdown =
    readme.markdown.length > MAX_README_LENGTH
      ? `${readme.markdown.slice(0, MAX_README_LENGTH)}\n\n*(README cut at ${MAX_README_LENGTH / 1024} KiB)*\n`
      : readme.markdown;
  await upsertReadme.all(trx, { repoId: readme.repoId, package: readme.package, version: readme.version, markdown });
}

const upsertReadme = prepared('readme upsert', (db: Db, p: { repoId: number; package: string; version: string; markdown: string }) =>
  db
    .insertInto('package_readmes')
    .values({ repo_id: p.repoId, package: p.package, version: p.version, markdown: p.markdown })
    .onConflict((oc) => oc.columns(['repo_id', 'package', 'version']).doUpdateSet({ markdown: p.markdown })),
);

/** The README of one version, or null. */
export async function readReadme(db: Db | Trx, ref: { repoId: number; package: string; version: string }): Promise<string | null> {
  const row = await db
    .selectFrom('package_readmes')
    .select('markdown')
    .where('repo_id', '=', ref.repoId)
    .where('package', '=', ref.package)
    .where('version', '=', ref.version)
    .executeTakeFirst();
  return row?.markdown ?? null;
}

/** Drops the README of one version inside the writing transaction (a Brioche tag that moved to a project without one). */
export async function removeReadme(trx: Trx, ref: { repoId: number; package: string; version: string }): Promise<void> {
  await trx
    .deleteFrom('package_readmes')
    .where('repo_id', '=', ref.repoId)
    .where('package', '=', ref.package)
    .where('version', '=', ref.version)
    .execute();
}
