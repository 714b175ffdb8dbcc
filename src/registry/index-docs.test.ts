import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../storage/db.js';
import { IndexDocs } from './index-docs.js';
import { inTransaction } from './tx.js';

let handle: DatabaseHandle;
let repoId: number;

beforeEach(async () => {
  handle = await openDatabase({ kind: 'sqlite', path: ':memory:' });
  const repo = await handle.db
    .insertInto('repos')
    .values({ name: 'docs', format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  repoId = repo.id;
});
afterEach(() => handle.close());

describe('IndexDocs cache', () => {
  it('caches what a load found, and the absence of a document', async () => {
    const docs = new IndexDocs(handle.db);
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    expect((await docs.get(repoId, 'a'))?.body.toString()).toBe('one');
    expect(docs.peek(repoId, 'a')?.body.toString()).toBe('one');
    expect(await docs.get(repoId, 'absent')).toBeNull();
    expect(docs.peek(repoId, 'absent')).toBeNull();
  });

  it('never caches a load that an invalidation overtook (it may hold the bytes from before the change)', async () => {
    const docs = new IndexDocs(handle.db);
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    const loading = docs.get(repoId, 'a');
    // Another node's commit is announced while the row is being read.
    docs.invalidate(repoId, 'a');
    expect((await loading)?.body.toString()).toBe('one');
    expect(docs.peek(repoId, 'a')).toBeUndefined();
    const cleared = docs.get(repoId, 'b');
    docs.clear();
    expect(await cleared).toBeNull();
    expect(docs.peek(repoId, 'b')).toBeUndefined();
  });

  it('shares one load between concurrent misses of a path', async () => {
    const docs = new IndexDocs(handle.db);
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    const [x, y] = await Promise.all([docs.get(repoId, 'a'), docs.get(repoId, 'a')]);
    expect(x).toBe(y);
  });

  it('tells subscribers of every change and of a reset, until they unsubscribe', async () => {
    const docs = new IndexDocs(handle.db);
    const seen: string[] = [];
    const stop = docs.subscribe({ changed: (r, p) => seen.push(`${r}:${p}`), reset: () => seen.push('reset') });
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    docs.invalidate(7, 'b');
    docs.clear();
    stop();
    docs.invalidate(7, 'c');
    expect(seen).toEqual([`${repoId}:a`, '7:b', 'reset']);
  });
});
