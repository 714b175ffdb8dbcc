import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../storage/db.js';
import { groupCommitStats } from './group-commit.js';
import { inTransaction, type UnitOfWork } from './tx.js';

describe('group commit (SQLite)', () => {
  let dir: string;
  let handle: DatabaseHandle;
  let other: SqliteDatabase.Database;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-group-'));
    const file = path.join(dir, 'larder.db');
    handle = await openDatabase({ kind: 'sqlite', path: file });
    await sql`create table t (unit text not null)`.execute(handle.db);
    // Another process's view of the file: it sees only what was committed.
    other = new SqliteDatabase(file, { readonly: true });
  });
  afterEach(async () => {
    other.close();
    await handle.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const committed = () => (other.prepare('select unit from t order by unit').all() as Array<{ unit: string }>).map((r) => r.unit);
  const insert = (uow: UnitOfWork, unit: string) => sql`insert into t (unit) values (${unit})`.execute(uow.trx);
  const grouped = <T>(fn: (uow: UnitOfWork) => Promise<T>) => inTransaction(handle, fn, { group: true });

  it('runs units queued together in one transaction; a failing unit is undone alone and rejected with its own error', async () => {
    const before = groupCommitStats(handle.db);
    const results = await Promise.allSettled([
      grouped(async (uow) => insert(uow, 'a')),
      grouped(async (uow) => {
        await insert(uow, 'b');
        await insert(uow, 'b2');
        throw new Error('b failed after writing');
      }),
      grouped(async (uow) => insert(uow, 'c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as Error).message).toBe('b failed after writing');
    expect(committed()).toEqual(['a', 'c']);
    const after = groupCommitStats(handle.db);
    expect({ groups: after.groups - before.groups, units: after.units - before.units }).toEqual({ groups: 1, units: 3 });
  });

  it('answers a unit only after the COMMIT that holds it, and runs its after-commit work after the COMMIT', async () => {
    const seen: Record<string, string[]> = {};
    const unit = (name: string) =>
      grouped(async (uow) => {
        await insert(uow, name);
        uow.afterCommit(() => void (seen[`after ${name}`] = committed()));
      }).then(() => (seen[`answered ${name}`] = committed()));
    await Promise.all([unit('a'), unit('b'), unit('c')]);
    // Even the first unit of the group is answered when the last one's row is committed, and after its own hook.
    for (const name of ['a', 'b', 'c']) {
      expect(seen[`after ${name}`]).toEqual(['a', 'b', 'c']);
      expect(seen[`answered ${name}`]).toEqual(['a', 'b', 'c']);
    }
  });

  it('fails the waiting units when another process keeps the write lock past busy_timeout, then goes on', async () => {
    await sql`pragma busy_timeout = 20`.execute(handle.db);
    const writer = new SqliteDatabase(path.join(dir, 'larder.db'));
    try {
      writer.exec('begin immediate');
      const results = await Promise.allSettled([grouped(async (uow) => insert(uow, 'a')), grouped(async (uow) => insert(uow, 'b'))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(((results[0] as PromiseRejectedResult).reason as { code?: string }).code).toBe('SQLITE_BUSY');
      writer.exec('rollback');
      await grouped(async (uow) => insert(uow, 'c'));
      expect(committed()).toEqual(['c']);
    } finally {
      writer.close();
    }
  });

  it('rejects every unit of a group whose COMMIT fails, and commits nothing of it', async () => {
    // A deferred foreign key is checked at COMMIT: the whole group fails there.
    await sql`create table parent (id integer primary key)`.execute(handle.db);
    await sql`create table child (parent integer references parent(id) deferrable initially deferred)`.execute(handle.db);
    const results = await Promise.allSettled([
      grouped(async (uow) => insert(uow, 'a')),
      grouped(async (uow) => void (await sql`insert into child (parent) values (42)`.execute(uow.trx))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(committed()).toEqual([]);
    // The writer goes on with the next group.
    await grouped(async (uow) => insert(uow, 'd'));
    expect(committed()).toEqual(['d']);
  });
});
