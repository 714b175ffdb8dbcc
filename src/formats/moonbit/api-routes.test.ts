import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { putModule } from '../../../test/support/moonbit.js';
import { inTransaction } from '../../registry/tx.js';
import { writeIndexFiles } from './store.js';

let t: TestApp;
const get = async (url: string) => {
  const res = await t.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as unknown, res };
};

beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
  await putModule(t.registry, 'moon', 'alice/json', '0.1.0', { description: 'JSON for MoonBit', keywords: ['json', 'parser'] });
  await putModule(t.registry, 'moon', 'alice/json', '0.2.0-alpha.1', { description: 'JSON for MoonBit, next' });
  await putModule(t.registry, 'moon', 'alice/json/v2', '2.0.0', { description: 'JSON, major 2' });
  await putModule(t.registry, 'moon', 'alice/jsonpath', '1.0.0', { description: 'paths into documents' });
  await putModule(t.registry, 'moon', 'bob/parser', '0.3.0', { description: 'a parser combinator library', keywords: ['JSON'] });
  await putModule(t.registry, 'moon', 'bob/数据', '0.1.0', { description: '数据结构' });
  const repo = t.registry.repos.get('moon')!;
  const yanked = {
    yankedPackages: [{ name: 'alice/json', version: '0.1.0', reason: 'use 0.2' }],
    count: 1,
    generatedAt: '2026-01-01T00:00:00Z',
  };
  await inTransaction(t.registry, (uow) =>
    writeIndexFiles(uow, t.registry, repo, [{ path: 'yanked.json', body: Buffer.from(JSON.stringify(yanked)) }], 'Yank alice/json@0.1.0'),
  );
});
afterAll(() => t?.stop());

describe('moon search', () => {
  it('ranks the exact name first, then prefixes, then words in descriptions and keywords', async () => {
    const { status, body } = await get('/moon/api/v0/search?kw=json');
    expect(status).toBe(200);
    expect((body as Array<{ name: string }>).map((m) => m.name)).toEqual(['alice/json', 'alice/json/v2', 'alice/jsonpath', 'bob/parser']);
    expect((body as unknown[])[0]).toEqual({ name: 'alice/json', version: '0.2.0-alpha.1', description: 'JSON for MoonBit, next' });
  });

  it('honours limit, lists everything for an empty kw, finds non-ASCII names, refuses a bad limit with a 400', async () => {
    expect(((await get('/moon/api/v0/search?kw=json&limit=1')).body as unknown[]).length).toBe(1);
    expect(((await get('/moon/api/v0/search?kw=')).body as unknown[]).length).toBe(5);
    expect(((await get(`/moon/api/v0/search?kw=${encodeURIComponent('数据')}`)).body as Array<{ name: string }>)[0]!.name).toBe('bob/数据');
    const bad = await get('/moon/api/v0/search?kw=json&limit=lots');
    expect(bad.status).toBe(400);
    expect((bad.body as { detail: string }).detail).toContain('limit');
    expect((await get('/moon/api/v0/search?kw=nothing-like-it')).body).toEqual([]);
  });
});

describe('moon view', () => {
  it('describes a module at its latest version (a prerelease when highest), with every version and its yank status', async () => {
    const { status, body } = await get('/moon/api/v0/manifest/alice/json');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      module: 'alice/json',
      version: '0.2.0-alpha.1',
      latest_version: '0.2.0-alpha.1',
      yanked: false,
      yanked_reason: null,
      metadata: { name: 'alice/json', version: '0.2.0-alpha.1', description: 'JSON for MoonBit, next' },
      versions: [{ version: '0.1.0', yanked: true, yanked_reason: 'use 0.2' }, { version: '0.2.0-alpha.1' }],
    });
    expect((body as { metadata: Record<string, unknown> }).metadata.checksum).toBeUndefined();
  });

  it('describes one version, and a /vN module as a module of its own', async () => {
    expect((await get('/moon/api/v0/manifest/alice/json@0.1.0')).body).toMatchObject({
      version: '0.1.0',
      yanked: true,
      yanked_reason: 'use 0.2',
    });
    expect((await get('/moon/api/v0/manifest/alice/json/v2')).body).toMatchObject({
      module: 'alice/json/v2',
      version: '2.0.0',
      versions: [{ version: '2.0.0' }],
    });
    expect((await get('/moon/api/v0/manifest/alice/json/v2@2.0.0')).status).toBe(200);
  });

  it('answers an unknown module or version with {"detail":"Package not found"}', async () => {
    for (const url of ['/moon/api/v0/manifest/alice/nope', '/moon/api/v0/manifest/alice/json@9.0.0', '/moon/api/v0/manifest/alice']) {
      const { status, body, res } = await get(url);
      expect(status, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect((body as { detail: string }).detail).toBe('Package not found');
    }
  });

  it("lists a user's modules, and 404s a user with none", async () => {
    expect((await get('/moon/api/v0/user/alice')).body).toEqual({
      username: 'alice',
      modules: [
        { name: 'alice/json', version: '0.2.0-alpha.1' },
        { name: 'alice/json/v2', version: '2.0.0' },
        { name: 'alice/jsonpath', version: '1.0.0' },
      ],
    });
    const none = await get('/moon/api/v0/user/carol');
    expect(none.status).toBe(404);
    expect((none.body as { detail: string }).detail).toMatch(/User not found/);
  });

  it('lists every module for the website', async () => {
    const { body } = await get('/moon/api/v0/modules');
    expect((body as Array<{ name: string }>).map((m) => m.name)).toEqual([
      'alice/json',
      'alice/json/v2',
      'alice/jsonpath',
      'bob/parser',
      'bob/数据',
    ]);
    expect((body as unknown[])[3]).toMatchObject({ name: 'bob/parser', version: '0.3.0', keywords: ['JSON'], license: 'Apache-2.0' });
  });

  it('sees a publish on the next request', async () => {
    await putModule(t.registry, 'moon', 'carol/x', '1.0.0');
    expect((await get('/moon/api/v0/user/carol')).body).toEqual({ username: 'carol', modules: [{ name: 'carol/x', version: '1.0.0' }] });
  });
});
