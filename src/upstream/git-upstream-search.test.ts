/**
 * A git-index proxy (MoonBit's) indexes what each sync changes, in the sync's transaction: modules the upstream
 * adds become searchable, a new version moves the entry, a removed index file removes it. MoonBit's own
 * `searchEntry` is another helper's: this runs a variant of the format with a stand-in that reads the last line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../cli/context.js';
import { parseIndexLines } from '../formats/moonbit/index-line.js';
import { moonbitFormat } from '../formats/moonbit/index.js';
import { moduleOfIndexPath } from '../formats/moonbit/names.js';
import type { FormatPlugin } from '../http/format-plugin.js';
import type { ProxyParts } from '../registry/source-parts.js';
import { openTestApp, type TestApp } from '../../test/support/larder.js';
import { startMoonbitUpstream, type MoonbitUpstream } from '../../test/support/moonbit-upstream.js';

const standIn: ProxyParts['searchEntry'] = (path, body) => {
  const module = moduleOfIndexPath(path);
  const last = parseIndexLines(body).at(-1);
  return module && last ? { package: module, name: module, latestVersion: last.version } : null;
};
const moonbitWithSearch: FormatPlugin = {
  ...moonbitFormat,
  parts: { ...moonbitFormat.parts, proxy: { ...moonbitFormat.parts.proxy!, searchEntry: standIn } },
};

describe('git-index proxy in search', () => {
  let up: MoonbitUpstream;
  let t: TestApp;
  const get = (url: string) => t.app.inject({ method: 'GET', url });
  const entries = async () =>
    (await t.registry.db.selectFrom('search_entries').select(['package', 'latest_version']).orderBy('package').execute()).map(
      (e) => `${e.package}@${e.latest_version}`,
    );

  beforeAll(async () => {
    up = await startMoonbitUpstream();
    t = await openTestApp({
      // A TTL of 1 ms: every read syncs again, so each upstream commit is taken by the next request.
      repos: [{ name: 'mooncakes', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url, ttl: 1 }],
      formats: FORMATS.map((f) => (f.format === 'moonbit' ? moonbitWithSearch : f)),
      outbound: { allowPrivate: ['127.0.0.1'] },
    });
  });
  afterAll(async () => {
    await t.stop();
    await up.close();
  });

  it('indexes every module a sync brings, follows new versions, and drops a module whose index file is gone', async () => {
    up.module('alice/json', '0.1.0');
    up.module('bob/fmt', '1.0.0');
    up.write({ 'yanked.json': '[]' });
    await up.commit('first');
    expect(await entries()).toEqual([]);
    expect((await get('/mooncakes/index/user/alice/json.index')).statusCode).toBe(200);
    // The whole synced tree, not just the file asked for.
    expect(await entries()).toEqual(['alice/json@0.1.0', 'bob/fmt@1.0.0']);
    const page = (await get('/-/search?q=fmt&fragment=1')).body;
    expect(page).toContain('href="/-/packages/mooncakes/bob/fmt"');
    expect(page).toContain('<span class="badge">mooncakes</span>');

    up.module('alice/json', '0.2.0');
    up.write({ 'user/bob/fmt.index': null });
    await up.commit('second');
    expect((await get('/mooncakes/index/user/alice/json.index')).statusCode).toBe(200);
    expect(await entries()).toEqual(['alice/json@0.2.0']);
    expect((await get('/-/search?q=fmt&fragment=1')).body).toContain('No packages match.');
  });
});
