import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.js';
import { openDatabase } from './db.js';
import { checkpointingApart } from './sqlite-checkpointer.js';

const dir = tempDir('larder-checkpointer-');
afterAll(() => dir.remove());

describe('checkpointingApart', () => {
  it('copies the WAL into the database file from another thread while the writer does not, then gives checkpoints back', async () => {
    const file = path.join(dir.path, 'larder.db');
    const target = { kind: 'sqlite', path: file } as const;
    const handle = await openDatabase(target);
    try {
      const autocheckpoint = async () =>
        (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(handle.db)).rows[0].wal_autocheckpoint;
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(handle.db);
      const before = fs.statSync(file).size;
      const grown = await checkpointingApart(handle.db, target, async () => {
        expect(await autocheckpoint()).toBe(0);
        for (let i = 0; i < 8; i++) {
          await handle.db.transaction().execute((trx) =>
            trx
              .insertInto('index_changes')
              .values(Array.from({ length: 100 }, (_, j) => ({ repo_id: 1, path: `${i}/${j}/${'x'.repeat(2000)}`, at: 1, origin: 'o' })))
              .execute(),
          );
        }
        // The writer never checkpoints now: only the worker can make the database file grow.
        const deadline = Date.now() + 5000;
        while (fs.statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return fs.statSync(file).size > before;
      });
      expect(grown).toBe(true);
      expect(await autocheckpoint()).toBe(1000);
      expect(
        (
          await handle.db
            .selectFrom('index_changes')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ).toBe(800);
    } finally {
      await handle.close();
    }
  });

  it('runs the work as it is on a database that is not a SQLite file', async () => {
    const handle = await openDatabase({ kind: 'sqlite', path: ':memory:' });
    try {
      expect(await checkpointingApart(handle.db, { kind: 'sqlite', path: ':memory:' }, async () => 'done')).toBe('done');
    } finally {
      await handle.close();
    }
  });
});
