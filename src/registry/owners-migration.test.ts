/** Upgrading a database from before shared owners: Cargo's owners are copied, earlier Bazel and Julia publishers own their packages. */
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { bazelMigrations } from '../formats/bazel/migrations.js';
import { cargoMigrations } from '../formats/cargo/migrations.js';
import { juliaMigrations } from '../formats/julia/migrations.js';
import { openDatabase } from '../storage/db.js';
import { tempDir } from '../../test/support/tmp.js';

const dir = tempDir('larder-owners-migration-');
afterAll(() => dir.remove());

it('copies cargo_owners into package_owners and backfills Bazel and Julia owners from the audit log', async () => {
  const file = path.join(dir.path, 'old.db');
  // The schema as it was: every migration but the ones that introduced shared owners.
  const old = await openDatabase({ kind: 'sqlite', path: file }, [
    ...cargoMigrations.filter((m) => m.name === 'cargo_0001_crates'),
    ...bazelMigrations.filter((m) => m.name !== 'bazel_0003_owners'),
    ...juliaMigrations.filter((m) => m.name !== 'julia_0004_owners'),
  ]);
  const db = old.db as unknown as import('kysely').Kysely<Record<string, Record<string, unknown>>>;
  const now = Date.now();
  for (const [name, format] of [
    ['cargo', 'cargo'],
    ['bazel', 'bazel'],
    ['julia', 'julia'],
  ])
    await db.insertInto('repos').values({ name, format, kind: 'hosted', visibility: 'public', created_at: now }).execute();
  for (const login of ['alice', 'bob']) await db.insertInto('users').values({ login, is_admin: 0, created_at: now }).execute();
  await db
    .insertInto('cargo_crates')
    .values({ repo_id: 1, name: 'Foo-Bar', norm_name: 'foo_bar', created_at: now, updated_at: now })
    .execute();
  await db
    .insertInto('cargo_owners')
    .values([
      { crate_id: 1, user_id: 1 },
      { crate_id: 1, user_id: 2 },
    ])
    .execute();
  await db
    .insertInto('audit_log')
    .values([
      { at: now, user_id: 2, repo_id: 2, action: 'bazel.publish', subject: 'rules_x@1.0.0' },
      { at: now, user_id: 1, repo_id: 2, action: 'bazel.publish', subject: 'rules_x@1.1.0' },
      {
        at: now,
        user_id: 1,
        repo_id: 3,
        action: 'julia.register',
        subject: 'Foo@0.1.0',
        detail: JSON.stringify({ tree: 'a'.repeat(40), registry: 'r' }),
      },
    ])
    .execute();
  await db
    .insertInto('julia_tarballs')
    .values({
      repo_id: 3,
      kind: 'package',
      uuid: '11111111-2222-4333-8444-555555555555',
      tree_hash: 'a'.repeat(40),
      sha256: 'x',
      size: 1,
      created_at: now,
    })
    .execute();
  await old.close();

  const upgraded = await openDatabase({ kind: 'sqlite', path: file }, [...cargoMigrations, ...bazelMigrations, ...juliaMigrations]);
  try {
    const rows = await upgraded.db
      .selectFrom('package_owners')
      .select(['repo_id', 'package', 'user_id'])
      .orderBy('repo_id')
      .orderBy('user_id')
      .execute();
    expect(rows).toEqual([
      { repo_id: 1, package: 'foo_bar', user_id: 1 },
      { repo_id: 1, package: 'foo_bar', user_id: 2 },
      { repo_id: 2, package: 'rules_x', user_id: 2 },
      { repo_id: 3, package: '11111111-2222-4333-8444-555555555555', user_id: 1 },
    ]);
    const left = await sql<{ name: string }>`select name from sqlite_master where name = 'cargo_owners'`.execute(upgraded.db);
    expect(left.rows).toEqual([]);
  } finally {
    await upgraded.close();
  }
});
