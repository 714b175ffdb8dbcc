import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../storage/db.js';
import { strongEtag } from '../core/hash.js';
import { docKey, entryBytes, IndexDocs, WHOLE_REPO, type IndexDoc } from './index-docs.js';
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

  it('peeks by a key made once as by repo and path, before and after a change', async () => {
    const docs = new IndexDocs(handle.db);
    const key = docKey(repoId, 'a');
    expect(docs.peekKey(key)).toBeUndefined();
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    await docs.get(repoId, 'a');
    expect(docs.peekKey(key)).toBe(docs.peek(repoId, 'a'));
    expect(docs.peekKey(key)?.body.toString()).toBe('one');
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('two')));
    expect(docs.peekKey(key)).toBeUndefined();
    await docs.get(repoId, 'a');
    expect(docs.peekKey(key)?.body.toString()).toBe('two');
    expect(docs.peekKey(docKey(repoId + 1, 'a'))).toBeUndefined();
  });

  it('has a peeker answer what the cache holds after every change, and count its hits', async () => {
    const docs = new IndexDocs(handle.db);
    const peek = docs.peeker(docKey(repoId, 'a'));
    const absent = docs.peeker(docKey(repoId, 'absent'));
    expect(peek()).toBeUndefined();
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    await docs.get(repoId, 'a');
    await docs.get(repoId, 'absent');
    const hits = docs.stats.hits;
    expect(peek()?.body.toString()).toBe('one');
    expect(peek()).toBe(docs.peek(repoId, 'a'));
    expect(absent()).toBeNull();
    expect(docs.stats.hits).toBe(hits + 4);
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('two')));
    expect(peek()).toBeUndefined();
    await docs.get(repoId, 'a');
    expect(peek()?.body.toString()).toBe('two');
    docs.invalidate(repoId, WHOLE_REPO);
    expect(peek()).toBeUndefined();
    expect(absent()).toBeUndefined();
    await docs.get(repoId, 'a');
    expect(peek()?.body.toString()).toBe('two');
    docs.clear();
    expect(peek()).toBeUndefined();
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

describe('IndexDocs announcements of a whole repo', () => {
  it('forgets every cached document and absence of the repo, and nothing of another', async () => {
    const docs = new IndexDocs(handle.db);
    const seen: string[] = [];
    docs.subscribe({ changed: (r, p) => seen.push(`${r}:${p}`), reset: () => seen.push('reset') });
    await inTransaction(handle, (uow) => docs.put(uow, repoId, 'a', Buffer.from('one')));
    await docs.get(repoId, 'a');
    await docs.get(repoId, 'absent');
    await docs.get(repoId + 1, 'absent');
    seen.length = 0;
    docs.invalidate(repoId, WHOLE_REPO);
    expect(docs.peek(repoId, 'a')).toBeUndefined();
    expect(docs.peek(repoId, 'absent')).toBeUndefined();
    expect(docs.peek(repoId + 1, 'absent')).toBeNull();
    expect(seen).toEqual(['reset']);
  });

  it('announces the repo once for a putMany into an empty repo, each path otherwise', async () => {
    const announced: string[][] = [];
    const docs = new IndexDocs(handle.db, async (_uow, _repo, paths) => void announced.push(paths));
    const doc = (path: string) => ({ path, body: Buffer.from(path), etag: strongEtag(Buffer.from(path)) });
    await inTransaction(handle, (uow) => docs.putMany(uow, repoId, [doc('a'), doc('b')], { wholeRepo: true }));
    await inTransaction(handle, (uow) => docs.putMany(uow, repoId, [doc('c'), doc('d')]));
    expect(announced).toEqual([[WHOLE_REPO], ['c', 'd']]);
    expect((await docs.get(repoId, 'b'))?.body.toString()).toBe('b');
  });
});

describe('IndexDocs memory budget', () => {
  /** Inserts `n` documents of `size` bytes in one transaction (faster than `put`, which announces each). */
  async function fill(n: number, size: number): Promise<string[]> {
    const paths = Array.from({ length: n }, (_, i) => `se/rd/crate-${i}`);
    await handle.db.transaction().execute(async (trx) => {
      for (let i = 0; i < n; i += 500) {
        const rows = paths.slice(i, i + 500).map((path, j) => {
          const body = Buffer.alloc(size, (i + j) % 251);
          body.write(path);
          return { repo_id: repoId, path, body, etag: `"${i + j}"`, updated_at: 1_700_000_000_000 + i + j };
        });
        await trx.insertInto('index_docs').values(rows).execute();
      }
    });
    return paths;
  }

  it('never has a peeker answer an evicted document, and evicts a document read through one last', async () => {
    const paths = await fill(60, 200);
    const probe = new IndexDocs(handle.db);
    await probe.get(repoId, paths[0]);
    // Room for ten documents.
    const docs = new IndexDocs(handle.db, null, null, probe.stats.bytes * 10.5);
    const hot = docs.peeker(docKey(repoId, paths[0]));
    const cold = docs.peeker(docKey(repoId, paths[1]));
    await docs.get(repoId, paths[0]);
    await docs.get(repoId, paths[1]);
    expect(cold()?.body.subarray(0, paths[1].length).toString()).toBe(paths[1]);
    for (const path of paths.slice(2)) {
      await docs.get(repoId, path);
      expect(hot()?.body.subarray(0, paths[0].length).toString()).toBe(paths[0]);
    }
    expect(docs.stats.entries).toBe(10);
    expect(cold()).toBeUndefined();
    expect(docs.peek(repoId, paths[1])).toBeUndefined();
  });

  it('stays within its budget over 100,000 documents read through, and serves evicted ones from the database', async () => {
    const budget = 4 * 2 ** 20;
    const docs = new IndexDocs(handle.db, null, null, budget);
    const paths = await fill(100_000, 200);
    let most = 0;
    for (const path of paths) {
      const doc = await docs.get(repoId, path);
      expect(doc?.body.subarray(0, path.length).toString()).toBe(path);
      most = Math.max(most, docs.stats.bytes);
    }
    expect(most).toBeLessThanOrEqual(budget);
    expect(docs.stats.budget).toBe(budget);
    // Each entry costs well over its 200-byte body, so far fewer than 100,000 fit.
    expect(docs.stats.entries).toBeGreaterThan(1000);
    expect(docs.stats.entries).toBeLessThan(budget / 400);
    // The first documents were evicted; reading them again goes to the database and gives the same bytes.
    expect(docs.peek(repoId, paths[0]!)).toBeUndefined();
    const misses = docs.stats.misses;
    const first = await docs.get(repoId, paths[0]!);
    expect(first?.body.subarray(0, paths[0]!.length).toString()).toBe(paths[0]);
    expect(first?.body.length).toBe(200);
    expect(first?.etag).toBe('"0"');
    expect(docs.stats.misses).toBe(misses + 1);
    expect(docs.peek(repoId, paths[paths.length - 1]!)?.etag).toBe('"99999"');
  }, 180_000);

  it('accounts at least what its entries really cost in V8 (heap statistics after a full GC)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const used = () => {
      gc();
      gc();
      return v8.getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
    };
    for (const size of [50, 1000]) {
      const docs = new IndexDocs(handle.db);
      await handle.db.deleteFrom('index_docs').execute();
      const paths = await fill(20_000, size);
      for (const path of paths.slice(0, 100)) await docs.get(repoId, path);
      const before = used();
      const accountedBefore = docs.stats.bytes;
      for (const path of paths.slice(100)) await docs.get(repoId, path);
      const real = used() - before;
      const accounted = docs.stats.bytes - accountedBefore;
      // Honest: not below what the entries hold (a little slack for GC noise), and not far above it.
      expect(accounted).toBeGreaterThanOrEqual(real * 0.95);
      expect(accounted).toBeLessThanOrEqual(real * 1.25);
    }
  }, 180_000);

  it('counts every field of a document, including ones added later (precomputed headers)', () => {
    const doc: IndexDoc = { body: Buffer.alloc(1000), etag: '"e"', updatedAt: 1, lastModified: 'Thu, 01 Jan 1970 00:00:00 GMT' };
    const plain = entryBytes(doc, '1\0a/b');
    expect(plain).toBeGreaterThan(1000 + '1\0a/b'.length + doc.lastModified.length);
    const headers = { 'content-type': 'text/plain', etag: '"e"', 'cache-control': 'public, max-age=60' };
    const withHeaders = entryBytes({ ...doc, headers } as IndexDoc, '1\0a/b');
    expect(withHeaders - plain).toBeGreaterThan(JSON.stringify(headers).length);
    expect(entryBytes({ ...doc, body: Buffer.alloc(5000) }, '1\0a/b') - plain).toBe(4000);
  });

  it('keeps nothing with a budget of 0', async () => {
    const docs = new IndexDocs(handle.db, null, null, 0);
    await fill(3, 10);
    expect((await docs.get(repoId, 'se/rd/crate-1'))?.etag).toBe('"1"');
    expect(docs.peek(repoId, 'se/rd/crate-1')).toBeUndefined();
    expect(docs.stats.entries).toBe(0);
  });
});

describe('index cache metrics', () => {
  it('shows the cache bytes, entries and budget in /-/metrics', async () => {
    const { openTestApp } = await import('../../test/support/larder.js');
    const t = await openTestApp({ cache: { indexDocuments: 2 ** 20 } });
    try {
      for (const name of ['aa', 'bb', 'cc']) {
        expect((await t.app.inject({ url: `/cargo/index/2/${name}` })).statusCode).toBe(404);
      }
      const metrics = (await t.app.inject({ url: '/-/metrics' })).body;
      const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
      expect(value('larder_index_cache_budget_bytes')).toBe(2 ** 20);
      expect(value('larder_index_cache_entries')).toBeGreaterThanOrEqual(3);
      expect(value('larder_index_cache_bytes')).toBe(t.registry.docs.stats.bytes);
      expect(value('larder_index_cache_bytes')).toBeGreaterThan(0);
    } finally {
      await t.stop();
    }
  });
});
