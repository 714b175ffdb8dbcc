import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../storage/db.js';
import { tempDir } from '../../test/support/tmp.js';
import { logIndexChange, newOrigin, watchSqliteChanges, type SqliteChangeWatcher } from './sqlite-changes.js';
import { WHOLE_REPO } from './index-docs.js';
import { inTransaction } from './tx.js';

const dir = tempDir('larder-changes-');
const file = path.join(dir.path, 'larder.db');
let writer: DatabaseHandle;
let watcher: SqliteChangeWatcher;
const mine = newOrigin();
const other = newOrigin();
const events: string[] = [];

beforeAll(async () => {
  writer = await openDatabase({ kind: 'sqlite', path: file });
  // A long interval: the test polls by hand.
  watcher = watchSqliteChanges(
    file,
    (repo, p) => events.push(`${repo}:${p}`),
    () => events.push('reset'),
    { origin: mine, intervalMs: 60_000 },
  );
});
afterAll(async () => {
  watcher?.close();
  await writer?.close();
  dir.remove();
});

const commit = (origin: string, ...paths: string[]) =>
  inTransaction({ db: writer.db, dialect: 'sqlite' }, async (uow) => {
    for (const p of paths) await logIndexChange(uow.trx, origin, 1, [p]);
  });

describe('watchSqliteChanges', () => {
  it('reports exactly the paths another origin committed, once', async () => {
    watcher.poll();
    expect(events).toEqual([]);
    await commit(other, 'a', 'b');
    watcher.poll();
    watcher.poll();
    expect(events.splice(0)).toEqual(['1:a', '1:b']);
  });

  it('skips its own origin and anything rolled back', async () => {
    await commit(mine, 'own');
    await expect(
      inTransaction({ db: writer.db, dialect: 'sqlite' }, async (uow) => {
        await logIndexChange(uow.trx, other, 1, ['rolled-back']);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await commit(other, 'c');
    watcher.poll();
    expect(events.splice(0)).toEqual(['1:c']);
  });

  it('reports a path committed several times since the last poll once, and a whole repo as its empty path', async () => {
    await commit(other, 'h', WHOLE_REPO);
    await commit(other, WHOLE_REPO, 'h');
    watcher.poll();
    expect(events.splice(0)).toEqual(['1:h', '1:']);
  });

  it('forgets everything when the rows it had not read yet were pruned', async () => {
    await commit(other, 'd', 'e');
    await writer.db.deleteFrom('index_changes').execute();
    await commit(other, 'f');
    watcher.poll();
    expect(events.splice(0)).toEqual(['reset']);
    await commit(other, 'g');
    watcher.poll();
    expect(events.splice(0)).toEqual(['1:g']);
  });
});
