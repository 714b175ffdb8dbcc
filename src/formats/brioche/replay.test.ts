/**
 * Retried Brioche writes (issue 13): cache objects are content-addressed and immutable, tags are pointers.
 * A write sent again changes nothing and is answered as a success the client takes as one (create-only:
 * 412, "already there"; a plain PUT of the same bytes: 200); other bytes for a key stay refused;
 * concurrent writes of one key or tag end as one write; permission is checked again on every retry.
 */
import { blake3 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zstd } from '../../../test/support/brioche-archive.js';
import { hashOf, postTags, putProject } from '../../../test/support/brioche-registry.js';
import { tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { registryState } from '../../../test/support/state.js';
import { growth } from '../../../test/support/state-growth.js';

let t: TestApp;
let alice: string;

beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public' }] });
  alice = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
});
afterAll(() => t?.stop());

const snapshot = () => registryState(t.registry, t.data);

/** A chunk's key and two valid encodings of it: zstd at two levels decompress to the bytes the key names. */
async function chunk(text: string): Promise<{ url: string; zst: Buffer; other: Buffer }> {
  // Words in a varying order: compressible, but not so simply that every level finds the same encoding.
  const words = Array.from({ length: 4000 }, (_, i) => `${text}${(i * 7919) % 613}`);
  const data = Buffer.from(words.join(' '));
  const [zst, other] = [await zstd(data, 1), await zstd(data, 19)];
  expect(zst.equals(other)).toBe(false);
  return { url: `/bri/cache/chunks/${await blake3(data)}.zst`, zst, other };
}

const put = (url: string, payload: Buffer, createOnly = true, token = alice) =>
  t.app.inject({
    method: 'PUT',
    url,
    payload,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/octet-stream',
      ...(createOnly ? { 'if-none-match': '*' } : {}),
    },
  });

describe('cache objects written again', () => {
  it('create-only: 412 (brioche: "already there"); plain PUT of the same bytes: 200 with the same ETag; nothing changes', async () => {
    const c = await chunk('create once ');
    const first = await put(c.url, c.zst);
    expect(first.statusCode).toBe(201);
    const before = await snapshot();
    const again = await put(c.url, c.zst);
    expect(again.statusCode).toBe(412);
    expect(again.headers.etag).toBe(first.headers.etag);
    const plain = await put(c.url, c.zst, false);
    expect(plain.statusCode).toBe(200);
    expect(plain.headers.etag).toBe(first.headers.etag);
    expect(await snapshot()).toEqual(before);
  });

  it('other bytes for a key (another valid encoding) are refused, with or without If-None-Match, and nothing changes', async () => {
    const c = await chunk('other bytes ');
    expect((await put(c.url, c.zst)).statusCode).toBe(201);
    const before = await snapshot();
    expect((await put(c.url, c.other)).statusCode).toBe(412);
    expect((await put(c.url, c.other, false)).statusCode).toBe(412);
    expect(await snapshot()).toEqual(before);
    expect((await t.app.inject({ method: 'GET', url: c.url })).rawPayload).toEqual(c.zst);
  });

  it('is refused to a token that could not write it now (403), changing nothing', async () => {
    const c = await chunk('permission ');
    expect((await put(c.url, c.zst)).statusCode).toBe(201);
    const reader = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
    const otherRepo = await tokenFor(t.registry, 'alice', { scopes: ['publish'], repoPattern: 'elsewhere' });
    const before = await snapshot();
    for (const token of [reader, otherRepo])
      for (const createOnly of [true, false]) expect((await put(c.url, c.zst, createOnly, token)).statusCode).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it('concurrent creates of one key end as one: the same bytes (201 and 412), other bytes (one kept, no stray blob)', async () => {
    let before = await snapshot();
    const single = await chunk('single ');
    expect((await put(single.url, single.zst)).statusCode).toBe(201);
    const one = growth(before, await snapshot());

    const same = await chunk('same twice ');
    before = await snapshot();
    const pair = await Promise.all([put(same.url, same.zst), put(same.url, same.zst)]);
    expect(pair.map((r) => r.statusCode).sort()).toEqual([201, 412]);
    expect(growth(before, await snapshot())).toEqual(one);

    const differ = await chunk('two encodings ');
    before = await snapshot();
    const race = await Promise.all([put(differ.url, differ.zst, false), put(differ.url, differ.other, false)]);
    expect(race.map((r) => r.statusCode).sort()).toEqual([201, 412]);
    expect(growth(before, await snapshot())).toEqual(one);
    const kept = race[0]!.statusCode === 201 ? differ.zst : differ.other;
    expect((await t.app.inject({ method: 'GET', url: differ.url })).rawPayload).toEqual(kept);
  });
});

describe('tags written again', () => {
  const H1 = hashOf('replayed project one');
  const H2 = hashOf('replayed project two');
  const tags = (project: string, hash: string) => [
    { projectName: project, tag: 'latest', projectHash: hash },
    { projectName: project, tag: '1.0.0', projectHash: hash },
  ];

  beforeAll(async () => {
    for (const h of [H1, H2]) await putProject(t.registry, 'bri', h);
  });

  it('the same tags again answer {"tags":[]} and change nothing; to a non-owner they stay refused', async () => {
    const first = await postTags(t.app, 'bri', tags('again', H1), `Bearer ${alice}`);
    expect(first.json()).toEqual({
      tags: [
        { name: 'again', tag: 'latest', previousHash: null },
        { name: 'again', tag: '1.0.0', previousHash: null },
      ],
    });
    const mallory = await tokenFor(t.registry, 'mallory', { scopes: ['publish'] });
    const before = await snapshot();
    const again = await postTags(t.app, 'bri', tags('again', H1), `Bearer ${alice}`);
    expect({ status: again.statusCode, body: again.json() }).toEqual({ status: 200, body: { tags: [] } });
    const other = await postTags(t.app, 'bri', tags('again', H1), `Bearer ${mallory}`);
    expect(other.statusCode).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it('concurrent identical posts both succeed and leave what one post leaves', async () => {
    let before = await snapshot();
    expect((await postTags(t.app, 'bri', tags('single', H1), `Bearer ${alice}`)).statusCode).toBe(200);
    const one = growth(before, await snapshot());

    before = await snapshot();
    const pair = await Promise.all([
      postTags(t.app, 'bri', tags('twice', H2), `Bearer ${alice}`),
      postTags(t.app, 'bri', tags('twice', H2), `Bearer ${alice}`),
    ]);
    expect(pair.map((r) => r.statusCode)).toEqual([200, 200]);
    // One of them set the tags; the other found them set.
    expect(pair.map((r) => (r.json() as { tags: unknown[] }).tags.length).sort()).toEqual([0, 2]);
    expect(growth(before, await snapshot())).toEqual(one);
  });

  it('adding an owner again, and removing one again, change nothing (no audit entry either)', async () => {
    await tokenFor(t.registry, 'bob', { scopes: ['read'] });
    const manager = await tokenFor(t.registry, 'alice', { scopes: ['owners'] });
    const owners = (method: 'PUT' | 'DELETE') =>
      t.app.inject({
        method,
        url: `/-/api/repos/bri/packages/again/owners`,
        payload: { users: ['bob'] },
        headers: { authorization: `Bearer ${manager}` },
      });
    for (const method of ['PUT', 'DELETE'] as const) {
      const first = await owners(method);
      expect(first.statusCode, first.body).toBe(200);
      const before = await snapshot();
      const again = await owners(method);
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json()).toEqual(first.json());
      expect(await snapshot()).toEqual(before);
    }
  });
});
