/**
 * Retried MoonBit writes (issue 13): a publish sent again with the same zip is answered as the success it
 * was and changes nothing; a different zip for the same version stays the 409 it was; concurrent publishes
 * end as one; yank, unyank and deprecate repeat without effect; permission is checked again on every retry.
 */
import type { InjectOptions } from 'fastify';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { moduleZip, publishRequest } from '../../../test/support/moonbit-publish.js';
import { registryState } from '../../../test/support/state.js';
import { growth } from '../../../test/support/state-growth.js';
import { inTransaction } from '../../registry/tx.js';
import { indexLineOf } from './manifest.js';
import { appendVersion } from './store.js';

let t: TestApp;
let alice: string;

const DUPLICATE = /^Version Error: The version you are attempting to upload \(1\.0\.0\) is duplicated with an existing version/;

beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
  alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
});
afterAll(async () => {
  await t?.stop();
});

const zipOf = (name: string, version: string, more: Record<string, unknown> = {}) => moduleZip({ name, version, ...more });
const publish = async (zip: Buffer, token = alice, opts: { query?: string } = {}) =>
  t.app.inject(await publishRequest('moon', token, zip, opts));
const snapshot = () => registryState(t.registry, t.data);
const indexOf = async (module: string) =>
  (await t.registry.docs.get(t.registry.repos.get('moon')!.id, `user/${module}.index`))?.body.toString();

/** Sends `req` and checks it was refused with `status` and a `detail` matching, changing nothing. */
async function refused(req: InjectOptions, status: number, detail: RegExp): Promise<void> {
  const before = await snapshot();
  const res = await t.app.inject(req);
  expect(res.statusCode, res.body).toBe(status);
  expect((res.json() as { detail: string }).detail).toMatch(detail);
  expect(await snapshot()).toEqual(before);
}

describe('a publish sent again', () => {
  it('answers 200 with the same body and changes nothing', async () => {
    const zip = zipOf('alice/again', '1.0.0', { description: 'sent twice', deps: {} });
    const first = await publish(zip);
    expect(first.statusCode, first.body).toBe(200);
    const before = await snapshot();
    const again = await publish(zip);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
    expect((await indexOf('alice/again'))!.trimEnd().split('\n')).toHaveLength(1);
  });

  it('refuses a different zip for the version as before (409), changing nothing; a dry run of the same zip stays 409', async () => {
    const zip = zipOf('alice/diff', '1.0.0');
    expect((await publish(zip)).statusCode).toBe(200);
    await refused(await publishRequest('moon', alice, zipOf('alice/diff', '1.0.0', { description: 'changed' })), 409, DUPLICATE);
    // The same manifest in other bytes: the line would differ only by its checksum.
    const otherBytes = moduleZip({ name: 'alice/diff', version: '1.0.0' }, [{ path: 'README.md', data: Buffer.from('# diff\n') }]);
    await refused(await publishRequest('moon', alice, otherBytes), 409, DUPLICATE);
    // A dry run asks whether a new version would be accepted: it would not.
    await refused(await publishRequest('moon', alice, zip, { query: '?dry_run=true' }), 409, DUPLICATE);
  });

  it('answers success after a yank made in between, and the version stays yanked', async () => {
    const zip = zipOf('alice/yanky', '1.0.0');
    expect((await publish(zip)).statusCode).toBe(200);
    const yank = await t.app.inject({
      method: 'POST',
      url: '/moon/api/v0/yank',
      payload: { module: 'alice/yanky', version: '1.0.0', reason: 'broken' },
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(yank.statusCode, yank.body).toBe(200);
    const before = await snapshot();
    expect((await publish(zip)).statusCode).toBe(200);
    expect(await snapshot()).toEqual(before);
    const yanked = (await t.registry.docs.get(t.registry.repos.get('moon')!.id, 'yanked.json'))!.body.toString();
    expect(JSON.parse(yanked).yankedPackages).toContainEqual({ name: 'alice/yanky', version: '1.0.0', reason: 'broken' });
  });

  it('is refused to a token that could not publish it now: no publish scope, another package pattern, another user', async () => {
    const zip = zipOf('alice/owned', '1.0.0');
    expect((await publish(zip)).statusCode).toBe(200);
    const readOnly = await tokenFor(t.registry, 'alice', { scopes: ['read'] });
    const otherPattern = await tokenFor(t.registry, 'alice', { scopes: ['publish'], packagePattern: 'alice/zed*' });
    const mallory = await tokenFor(t.registry, 'mallory', { scopes: ['publish'] });
    await refused(await publishRequest('moon', readOnly, zip), 403, /publish/);
    await refused(await publishRequest('moon', otherPattern, zip), 403, /alice\/owned/);
    await refused(await publishRequest('moon', mallory, zip), 403, /User mismatch/);
  });

  it('met inside the transaction (a concurrent attempt committed first): nothing written; a different zip stays refused', async () => {
    const zip = zipOf('alice/inside', '1.0.0');
    expect((await publish(zip)).statusCode).toBe(200);
    const repo = t.registry.repos.get('moon')!;
    const append = async (bytes: Buffer) => {
      const staged = await t.registry.blobs.stage(Readable.from([bytes]));
      const line = indexLineOf({ name: 'alice/inside', version: '1.0.0' }, staged.sha256);
      const v = { module: 'alice/inside', version: '1.0.0', line, staged, description: null, publishedBy: null };
      try {
        return await inTransaction(t.registry, (uow) => appendVersion(uow, t.registry, repo, v));
      } finally {
        await staged.discard();
      }
    };
    const before = await snapshot();
    expect(await append(zip)).toBe(false);
    expect(await snapshot()).toEqual(before);
    await expect(append(zipOf('alice/inside', '1.0.0', { description: 'other' }))).rejects.toMatchObject({ code: 'VERSION_EXISTS' });
    expect(await snapshot()).toEqual(before);
  });
});

describe('concurrent publishes of one version', () => {
  it('identical ones both succeed and leave what one publish leaves', async () => {
    let before = await snapshot();
    expect((await publish(zipOf('alice/single', '1.0.0'))).statusCode).toBe(200);
    const single = growth(before, await snapshot());

    const zip = zipOf('alice/twice', '1.0.0');
    before = await snapshot();
    const [a, b] = await Promise.all([publish(zip), publish(zip)]);
    expect([a.statusCode, b.statusCode], a.body + b.body).toEqual([200, 200]);
    expect(a.json()).toEqual(b.json());
    expect(growth(before, await snapshot())).toEqual(single);
    expect((await indexOf('alice/twice'))!.trimEnd().split('\n')).toHaveLength(1);
  });

  it('different ones: one wins, the other is refused (409), and the state is that of one publish', async () => {
    let before = await snapshot();
    expect((await publish(zipOf('alice/alone', '1.0.0'))).statusCode).toBe(200);
    const single = growth(before, await snapshot());

    before = await snapshot();
    const [a, b] = await Promise.all([
      publish(zipOf('alice/race', '1.0.0', { description: 'a' })),
      publish(zipOf('alice/race', '1.0.0', { description: 'b' })),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    expect(growth(before, await snapshot())).toEqual(single);
    const winner = (a.statusCode === 200 ? a : b).json() as { checksum: string };
    expect(JSON.parse((await indexOf('alice/race'))!).checksum).toBe(winner.checksum);
  });
});

describe('yank, unyank and deprecate sent again', () => {
  const post = (url: string, payload: object) =>
    t.app.inject({ method: 'POST', url: `/moon/api/v0/${url}`, payload, headers: { authorization: `Bearer ${alice}` } });

  /** Sends a write twice: both answers the same, the second changing nothing. */
  async function twice(url: string, payload: object): Promise<void> {
    const first = await post(url, payload);
    expect(first.statusCode, first.body).toBe(200);
    const before = await snapshot();
    const again = await post(url, payload);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(await snapshot()).toEqual(before);
  }

  it('change nothing the second time', async () => {
    for (const v of ['1.0.0', '1.1.0']) expect((await publish(zipOf('alice/yanks', v))).statusCode).toBe(200);
    await twice('yank', { module: 'alice/yanks', version: '1.0.0', reason: 'broken' });
    await twice('yank', { module: 'alice/yanks', version: '1.0.0', undo: true });
    await twice('deprecate', { Deprecate: { module: 'alice/yanks', reason: 'use alice/other', undo: false } });
    await twice('deprecate', { Deprecate: { module: 'alice/yanks', reason: null, undo: true } });
  });

  it('a repeated yank with a new reason changes the reason', async () => {
    await post('yank', { module: 'alice/yanks', version: '1.1.0', reason: 'first' });
    const res = await post('yank', { module: 'alice/yanks', version: '1.1.0', reason: 'second' });
    expect(res.statusCode).toBe(200);
    const yanked = JSON.parse((await t.registry.docs.get(t.registry.repos.get('moon')!.id, 'yanked.json'))!.body.toString());
    expect(yanked.yankedPackages).toContainEqual({ name: 'alice/yanks', version: '1.1.0', reason: 'second' });
  });

  it('adding an owner again, and removing one again, change nothing (no audit entry either)', async () => {
    await tokenFor(t.registry, 'bob', { scopes: ['read'] });
    const manager = await tokenFor(t.registry, 'alice', { scopes: ['owners'] });
    const owners = (method: 'PUT' | 'DELETE') =>
      t.app.inject({
        method,
        url: `/-/api/repos/moon/packages/alice%2Fyanks/owners`,
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
