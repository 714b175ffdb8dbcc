import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../core/hash.js';
import { Auth } from '../registry/auth.js';
import { IndexDocs } from '../registry/index-docs.js';
import { inTransaction } from '../registry/tx.js';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { snapshotFiles, tempDir } from '../../test/support/tmp.js';
import { isUniqueViolation, openDatabase, type DatabaseHandle, type DatabaseTarget } from './db.js';
import { FsBlobStore } from './fs-blobs.js';

let pg: TestPostgres;
const dirs: Array<{ remove(): void }> = [];

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  for (const d of dirs) d.remove();
});

const targets: Array<[string, () => Promise<DatabaseTarget>]> = [
  [
    'sqlite',
    async () => {
      const d = tempDir();
      dirs.push(d);
      return { kind: 'sqlite', path: path.join(d.path, 'larder.db') };
    },
  ],
  ['postgres', async () => ({ kind: 'postgres', url: await pg.newDatabase() })],
];

describe.each(targets)('database on %s', (_name, target) => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase(await target());
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('migrates, and migrating again is a no-op', async () => {
    const again = await openDatabase(handle.dialect === 'sqlite' ? await target() : await target());
    await again.close();
    const repos = await handle.db.selectFrom('repos').selectAll().execute();
    expect(repos).toEqual([]);
  });

  it('reports unique violations the same way in both dialects', async () => {
    await handle.db
      .insertInto('repos')
      .values({ name: 'dup', format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 1 })
      .execute();
    const err = await handle.db
      .insertInto('repos')
      .values({ name: 'dup', format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 2 })
      .execute()
      .catch((e) => e);
    expect(isUniqueViolation(err)).toBe(true);
  });

  it('stores index documents only when the transaction commits, with byte-exact bodies', async () => {
    const repo = await handle.db
      .insertInto('repos')
      .values({ name: 'docs', format: 'cargo', kind: 'hosted', visibility: 'public', created_at: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const docs = new IndexDocs(handle.db);
    expect(await docs.get(repo.id, 'ab/cd/abcd')).toBeNull();
    const body = Buffer.from('{"name":"abcd"}\r\n\u00e9\n', 'utf8');
    await expect(
      inTransaction(handle, async (uow) => {
        await docs.put(uow, repo.id, 'ab/cd/abcd', body);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await docs.get(repo.id, 'ab/cd/abcd')).toBeNull();
    await inTransaction(handle, (uow) => docs.put(uow, repo.id, 'ab/cd/abcd', body));
    const doc = await docs.get(repo.id, 'ab/cd/abcd');
    expect(doc?.body.equals(body)).toBe(true);
    expect(doc?.etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    // A second reader without the cache sees the same bytes from the database.
    const fresh = await new IndexDocs(handle.db).get(repo.id, 'ab/cd/abcd');
    expect(fresh?.body.equals(body)).toBe(true);
    expect(fresh?.etag).toBe(doc?.etag);
  });

  it('creates, authenticates, expires and revokes tokens', async () => {
    const auth = new Auth(handle.db);
    await auth.createUser('alice');
    const { token, row } = await auth.createToken({ login: 'alice', scopes: ['publish'], repoPattern: 'cargo*' });
    expect(token).toMatch(/^larder_/);
    expect(row.token_hash).toBe(sha256Hex(token));
    const p = await auth.authenticate(token);
    expect(p.login).toBe('alice');
    expect([...p.scopes]).toEqual(['publish']);
    const expired = await auth.createToken({ login: 'alice', scopes: ['read'], expiresInMs: -1000 });
    await expect(auth.authenticate(expired.token)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await auth.revokeToken(String(row.id));
    await expect(auth.authenticate(token)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
    await expect(auth.authenticate('larder_nope')).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
  });
});

describe('filesystem blob store', () => {
  it('stages, hashes while streaming, and exposes a blob only after commit', async () => {
    const d = tempDir();
    dirs.push(d);
    const store = new FsBlobStore(d.path);
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 0x61);
    const staged = await store.stage(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
    expect(staged.sha256).toBe(sha256Hex(bytes));
    expect(staged.size).toBe(bytes.length);
    expect(await store.has(staged.sha256)).toBe(false);
    await staged.commit();
    expect(await store.has(staged.sha256)).toBe(true);
    const handle = await store.open(staged.sha256);
    const chunks: Buffer[] = [];
    for await (const c of handle!.stream()) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(snapshotFiles(path.join(d.path, 'tmp'))).toEqual({});
    const listed: string[] = [];
    for await (const s of store.list()) listed.push(s.sha256);
    expect(listed).toEqual([staged.sha256]);
  });

  it('stages bytes given whole like the same bytes streamed', async () => {
    const d = tempDir();
    dirs.push(d);
    const store = new FsBlobStore(d.path);
    const bytes = Buffer.from('a small crate, received whole');
    const staged = await store.stage(bytes);
    expect({ sha256: staged.sha256, size: staged.size }).toEqual({ sha256: sha256Hex(bytes), size: bytes.length });
    expect(await store.has(staged.sha256)).toBe(false);
    await staged.commit();
    const handle = await store.open(staged.sha256);
    const chunks: Buffer[] = [];
    for await (const c of handle!.stream()) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(snapshotFiles(path.join(d.path, 'tmp'))).toEqual({});
  });

  it('rejects an oversized stream and leaves nothing behind', async () => {
    const d = tempDir();
    dirs.push(d);
    const store = new FsBlobStore(d.path);
    await expect(store.stage(Readable.from([Buffer.alloc(2048)]), { maxSize: 1024 })).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' });
    expect(snapshotFiles(path.join(d.path, 'tmp'))).toEqual({});
    const discarded = await store.stage(Readable.from([Buffer.from('x')]));
    await discarded.discard();
    expect(await store.has(discarded.sha256)).toBe(false);
    expect(snapshotFiles(path.join(d.path, 'tmp'))).toEqual({});
  });
});
