import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from './db.js';
import { chunkSize, MultiRowStatement } from './multi-row.js';

let handle: DatabaseHandle;
beforeEach(async () => {
  handle = await openDatabase({ kind: 'sqlite', path: ':memory:' });
});
afterEach(() => handle.close());

type Change = { repo_id: number; path: string; at: number; origin: string };
const insert = (db: DatabaseHandle['db'], rows: Change[]) => db.insertInto('index_changes').values(rows);

describe('MultiRowStatement', () => {
  it('cuts any count into the largest chunk, then powers of two', () => {
    const cut = (n: number, max: number) => {
      const sizes: number[] = [];
      for (let left = n; left > 0; left -= sizes[sizes.length - 1]) sizes.push(chunkSize(left, max));
      return sizes;
    };
    expect(cut(1234, 500)).toEqual([500, 500, 128, 64, 32, 8, 2]);
    expect(cut(500, 500)).toEqual([500]);
    expect(cut(1, 500)).toEqual([1]);
    expect(cut(3, 1)).toEqual([1, 1, 1]);
  });

  it('writes every row, in order, with one compiled statement per chunk size', async () => {
    const statement = new MultiRowStatement<Change>(500, insert, (r) => [r.repo_id, r.path, r.at, r.origin]);
    const rows = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => ({ repo_id: 1, path: `p${from + i}`, at: from + i, origin: i % 2 ? 'x' : 'y' }));
    await statement.run(handle.db, rows(1234, 0));
    await statement.run(handle.db, rows(500 + 128, 1234));
    await statement.run(handle.db, []);
    const stored = await handle.db.selectFrom('index_changes').select(['path', 'at', 'origin']).orderBy('id').execute();
    expect(stored).toEqual(rows(1234 + 628, 0).map(({ path, at, origin }) => ({ path, at, origin })));
    expect((statement as unknown as { compiled: Map<number, string> }).compiled.size).toBe(6);
  });

  it('refuses parameters that are not the ones the statement takes', async () => {
    const statement = new MultiRowStatement<Change>(500, insert, (r) => [r.path, r.repo_id, r.at, r.origin]);
    await expect(statement.run(handle.db, [{ repo_id: 1, path: 'p', at: 1, origin: 'o' }])).rejects.toThrow('do not match');
    expect(await handle.db.selectFrom('index_changes').selectAll().execute()).toEqual([]);
  });
});
