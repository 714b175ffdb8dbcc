import { afterAll, beforeAll, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { putModule } from '../../../test/support/moonbit.js';

let t: TestApp;
beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'secret', format: 'moonbit', kind: 'hosted', visibility: 'private' }] });
  await putModule(t.registry, 'secret', 'alice/json', '0.1.0');
});
afterAll(() => t?.stop());

const URLS = [
  '/secret/git/index/info/refs?service=git-upload-pack',
  '/secret/user/alice%2Fjson%2F0.1.0.zip',
  '/secret/index/user/alice/json.index',
  '/secret/symbols.zip',
  '/secret/assets/alice/json@0.1.0/json.wasm',
  '/secret/api/v0/search?kw=json',
  '/secret/api/v0/manifest/alice/json',
  '/secret/api/v0/user/alice',
  '/secret/api/v0/modules',
  '/secret/user/alice%2Fnope%2F1.0.0.zip',
  '/secret/nothing-here',
];

it('answers nothing of a private repo without a token, saying how to send one, and serves with one', async () => {
  for (const url of URLS) {
    const res = await t.app.inject({ method: 'GET', url });
    expect(res.statusCode, url).toBe(401);
    const { detail } = res.json() as { detail: string };
    expect(detail).toContain('secret is private');
    expect(detail).toContain('credential helper');
  }
  const auth = { authorization: `Bearer ${t.adminToken}` };
  for (const url of URLS.slice(0, 3)) expect((await t.app.inject({ method: 'GET', url, headers: auth })).statusCode, url).toBe(200);
  expect((await t.app.inject({ method: 'GET', url: '/secret/api/v0/user/alice', headers: auth })).json()).toEqual({
    username: 'alice',
    modules: [{ name: 'alice/json', version: '0.1.0' }],
  });
});
