/**
 * MoonBit in the web UI: package pages of hosted, proxied and grouped modules (versions, yanks and their
 * reasons, dependencies and dependents, owners, the README rendered inert, the exact snippets), and search
 * following publishes, yanks and imports.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../../../test/support/cargo.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { moduleZip, publishRequest } from '../../../test/support/moonbit-publish.js';
import { startMoonbitUpstream, type MoonbitUpstream } from '../../../test/support/moonbit-upstream.js';
import { registryState } from '../../../test/support/state.js';
import { searchPackages } from '../../registry/search/index.js';
import { importMoonbit } from './import.js';
import type { MoonbitTables } from './store.js';

let t: TestApp;
let up: MoonbitUpstream;
let alice: string;
let mallory: string;

const HOSTILE_README = [
  '# JSON for MoonBit',
  '',
  '<script>alert("readme")</script>',
  '',
  '[click me](javascript:alert(1)) and <a href="javascript:alert(2)">raw</a>',
  '',
  '![pixel](data:image/png;base64,iVBORw0KGgo=) <img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(3)">',
  '',
  '![logo](https://example.com/logo.png)',
].join('\n');

const send = (req: InjectOptions) => t.app.inject(req);
const publish = async (manifest: Record<string, unknown>, files: Array<{ path: string; data: Buffer }> = []) => {
  const res = await send(await publishRequest('moon', alice, moduleZip(manifest, files)));
  expect(res.statusCode, res.body).toBe(200);
};
const yank = async (token: string, body: Record<string, unknown>, path = 'yank') =>
  send({ method: 'POST', url: `/moon/api/v0/${path}`, payload: body, headers: { authorization: `Bearer ${token}` } });
const page = (url: string) => send({ method: 'GET', url });

/** The text of a snippet's code block, entities decoded, as the copy button copies it. */
function snippet(html: string, n: number): string {
  const code = new RegExp(`<code id="snippet-${n}">([\\s\\S]*?)</code>`).exec(html)?.[1];
  if (code === undefined) throw new Error(`no snippet-${n} in the page`);
  return code
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The table row of a version in the versions table. */
function versionRow(html: string, version: string): string {
  const row = html.split('<tr>').find((r) => r.includes(`>${version}</a>`));
  if (!row) throw new Error(`no row for ${version}`);
  return row.split('</tr>')[0]!;
}

const hits = async (query: string) => {
  const repoIds = [...t.registry.repos.values()].map((r) => r.id);
  return (await searchPackages(t.registry.db, t.registry.dialect, { query, repoIds, limit: 20 })).hits;
};

beforeAll(async () => {
  up = await startMoonbitUpstream();
  up.write({
    'user/bob/tool.index': [
      { name: 'bob/tool', version: '0.1.0', deps: null, license: 'MIT', created_at: '2025-03-01T07:40:01.901177+00:00' },
      {
        name: 'bob/tool',
        version: '0.2.0',
        deps: { 'alice/json': '0.3.0', 'bob/local': { path: '../local' } },
        description: 'A tool from upstream',
        repository: 'https://github.com/bob/tool',
        created_at: '2025-04-02T00:00:00+00:00',
      },
    ]
      .map((l) => `${JSON.stringify({ ...l, checksum: 'b'.repeat(64) })}\n`)
      .join(''),
    'yanked.json': JSON.stringify({ yankedPackages: [{ name: 'bob/tool', version: '0.1.0', reason: 'renamed from bob/tools' }] }),
  });
  await up.commit();
  t = await openTestApp({
    publicUrl: 'https://larder.example',
    outbound: { allowPrivate: ['127.0.0.1'] },
    repos: [
      { name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      { name: 'imported', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      { name: 'up', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url },
      { name: 'all', format: 'moonbit', kind: 'group', visibility: 'public', members: ['moon', 'up'] },
    ],
  });
  alice = await tokenFor(t.registry, 'alice', { scopes: ['publish', 'yank'] });
  mallory = await tokenFor(t.registry, 'mallory', { scopes: ['publish', 'yank'] });
  const json = { name: 'alice/json', license: 'Apache-2.0', repository: 'https://github.com/alice/json', keywords: ['json', 'parser'] };
  await publish({ ...json, version: '0.1.0', description: 'JSON, first cut' });
  await publish({ ...json, version: '0.2.0', description: 'JSON, second cut' });
  await publish({ ...json, version: '0.3.0', description: 'Fast JSON for MoonBit', deps: { 'moonbitlang/core': '0.0.0' } }, [
    { path: 'README.md', data: Buffer.from(HOSTILE_README) },
  ]);
  await publish({ name: 'alice/app', version: '1.0.0', deps: { 'alice/json': '0.3.0' }, 'bin-deps': { 'alice/fmt': { path: '../fmt' } } });
  expect((await yank(alice, { module: 'alice/json', version: '0.2.0', reason: 'parses numbers wrong; use 0.3.0' })).statusCode).toBe(200);
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

describe('the package page of a hosted module', () => {
  it('shows the latest version, every version newest first with the yank and its reason, the facts and the owners', async () => {
    const res = await page('/-/packages/moon/alice/json');
    expect(res.statusCode, res.body).toBe(200);
    const html = res.body;
    expect(html).toContain('<title>alice/json 0.3.0');
    expect(html).toContain('<p>Fast JSON for MoonBit</p>');
    expect(html).toContain('Versions (3)');
    const order = ['0.3.0', '0.2.0', '0.1.0'].map((v) => html.indexOf(`>${v}</a>`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(versionRow(html, '0.2.0')).toContain('<span class="badge yanked">yanked</span> parses numbers wrong; use 0.3.0');
    expect(versionRow(html, '0.3.0')).toContain('latest');
    const { published_at } = await t.registry.db
      .withTables<MoonbitTables>()
      .selectFrom('moonbit_versions')
      .select('published_at')
      .where('module', '=', 'alice/json')
      .where('version', '=', '0.3.0')
      .executeTakeFirstOrThrow();
    expect(versionRow(html, '0.3.0')).toContain(`<time datetime="${new Date(Number(published_at)).toISOString()}"`);
    expect(html).toMatch(/<dt>License<\/dt><dd>Apache-2.0<\/dd>/);
    expect(html).toMatch(/<dt>Owners<\/dt><dd>alice<\/dd>/);
    expect(html).toContain('<a href="https://github.com/alice/json" rel="nofollow noopener noreferrer">github.com/alice/json</a>');
    expect(html).toMatch(/<dt>Keywords<\/dt><dd>json, parser<\/dd>/);
    expect(html).toMatch(/<dt>Checksum \(SHA-256\)<\/dt><dd>[0-9a-f]{64}<\/dd>/);
  });

  it('lists the dependencies of the version shown and the modules here that depend on it', async () => {
    const json = (await page('/-/packages/moon/alice/json')).body;
    // moonbitlang/core is not in this repo: named, not linked.
    expect(json).toContain('<li>moonbitlang/core <code>0.0.0</code>');
    expect(json).toContain('Depended on by (1)');
    expect(json).toContain('<a class="name" href="/-/packages/moon/alice/app">alice/app</a>');
    const app = (await page('/-/packages/moon/alice/app')).body;
    expect(app).toContain('<li><a href="/-/packages/moon/alice/json">alice/json</a> <code>0.3.0</code>');
    expect(app).toContain('<li>alice/fmt <code>../fmt</code> <span class="badge">bin, path</span>');
    expect(app).toContain('Depended on by (0)');
  });

  it('offers moon add, the moon.mod.json dependency and the registry setup, exactly', async () => {
    const html = (await page('/-/packages/moon/alice/json')).body;
    expect(snippet(html, 0)).toBe('export MOONCAKES_REGISTRY=https://larder.example/moon\nmoon add alice/json@0.3.0');
    expect(snippet(html, 1)).toBe('"deps": {\n  "alice/json": "0.3.0"\n}');
    expect(JSON.parse(snippet(html, 2))).toEqual({
      api: 'https://larder.example/moon',
      index: 'https://larder.example/moon/git/index',
      download: 'https://larder.example/moon',
      symbols: 'https://larder.example/moon/symbols.zip',
    });
    expect(html).toContain('Also served by <a href="/-/repos/all">all</a>');
  });

  it('shows an older version with ?version=, yanked with its reason and a link to the latest', async () => {
    const res = await page('/-/packages/moon/alice/json?version=0.2.0');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<p>JSON, second cut</p>');
    expect(res.body).toContain('This version is yanked: parses numbers wrong; use 0.3.0.');
    expect(res.body).toContain('The latest version is <a href="/-/packages/moon/alice/json?version=0.3.0">0.3.0</a>');
    expect(snippet(res.body, 0)).toBe('export MOONCAKES_REGISTRY=https://larder.example/moon\nmoon add alice/json@0.2.0');
    expect(res.body).toContain('This version has no README here.');
  });

  it('renders the README with its script, javascript: links and data: images inert', async () => {
    const html = (await page('/-/packages/moon/alice/json')).body;
    const readme = html.slice(html.indexOf('<article class="readme">'), html.indexOf('</article>'));
    expect(readme).toContain('<h3>JSON for MoonBit</h3>');
    expect(readme).toContain('<img src="https://example.com/logo.png"');
    // Raw HTML stays text; no link, image or handler survives with a hostile scheme.
    expect(readme).toContain('<p>&lt;script&gt;alert("readme")&lt;/script&gt;</p>');
    expect(readme).not.toMatch(/<script|<a [^>]*href="javascript:|<img [^>]*src="data:|<[a-z]+ [^>]*onerror=/i);
    expect(readme).not.toContain('alt="pixel"');
    expect(html).not.toContain('<script>alert');
  });

  it('answers 404 for an unknown module or version, changing nothing', async () => {
    const before = await registryState(t.registry, t.data);
    for (const url of ['/-/packages/moon/alice/nothing', '/-/packages/moon/alice/json?version=9.9.9', '/-/packages/moon/notamodule']) {
      const res = await page(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    }
    expect((await page('/-/packages/moon/alice/json?version=9.9.9')).body).toContain('alice/json has no version 9.9.9 in moon');
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });
});

describe('proxy and group pages', () => {
  it('shows a proxied module from the upstream index: dates from created_at, yanks from its yanked.json', async () => {
    const res = await page('/-/packages/up/bob/tool');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('<title>bob/tool 0.2.0');
    expect(res.body).toContain('<p>A tool from upstream</p>');
    expect(versionRow(res.body, '0.2.0')).toContain('<time datetime="2025-04-02T00:00:00.000Z">2025-04-02</time>');
    expect(versionRow(res.body, '0.1.0')).toContain('<span class="badge yanked">yanked</span> renamed from bob/tools');
    // alice/json is not upstream: unlinked on the proxy; a path dependency says so.
    expect(res.body).toContain('<li>alice/json <code>0.3.0</code>');
    expect(res.body).toContain('<li>bob/local <code>../local</code> <span class="badge">path</span>');
    expect(snippet(res.body, 0)).toBe('export MOONCAKES_REGISTRY=https://larder.example/up\nmoon add bob/tool@0.2.0');
  });

  it('shows hosted and proxied modules through a group, with the group in the snippets', async () => {
    const hosted = await page('/-/packages/all/alice/json');
    expect(hosted.statusCode).toBe(200);
    expect(versionRow(hosted.body, '0.2.0')).toContain('parses numbers wrong; use 0.3.0');
    expect(snippet(hosted.body, 0)).toBe('export MOONCAKES_REGISTRY=https://larder.example/all\nmoon add alice/json@0.3.0');
    const proxied = await page('/-/packages/all/bob/tool');
    expect(proxied.statusCode).toBe(200);
    // Through the group, the hosted alice/json is here: linked.
    expect(proxied.body).toContain('<li><a href="/-/packages/all/alice/json">alice/json</a> <code>0.3.0</code>');
    expect((await page('/-/packages/all/nobody/here')).statusCode).toBe(404);
  });
});

describe('search', () => {
  it('finds a module after its publish, with the latest version, description and keywords of that version', async () => {
    const res = await page('/-/search?q=alice/json');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('href="/-/packages/moon/alice/json"');
    expect((await hits('alice/json'))[0]).toMatchObject({
      package: 'alice/json',
      format: 'moonbit',
      latestVersion: '0.3.0',
      description: 'Fast JSON for MoonBit',
      keywords: ['json', 'parser'],
      match: 'exact',
    });
    expect((await hits('parser')).map((h) => h.package)).toContain('alice/json');
  });

  it('follows yanks: the latest not yanked, gone when every version is yanked, back on unyank', async () => {
    await publish({ name: 'alice/gone', version: '1.0.0', description: 'soon gone' });
    await publish({ name: 'alice/gone', version: '1.1.0', description: 'soon gone' });
    const latest = async () => (await hits('alice/gone')).find((h) => h.package === 'alice/gone')?.latestVersion;
    expect(await latest()).toBe('1.1.0');
    expect((await yank(alice, { module: 'alice/gone', version: '1.1.0', reason: 'bad' })).statusCode).toBe(200);
    expect(await latest()).toBe('1.0.0');
    expect((await yank(alice, { Deprecate: { module: 'alice/gone', reason: 'use alice/json' } }, 'deprecate')).statusCode).toBe(200);
    expect(await latest()).toBeUndefined();
    expect((await page('/-/search?q=alice/gone')).body).not.toContain('href="/-/packages/moon/alice/gone"');
    // Still has a page: every version yanked, the highest shown.
    const gone = (await page('/-/packages/moon/alice/gone')).body;
    expect(gone).toContain('This version is yanked: use alice/json.');
    expect((await yank(alice, { module: 'alice/gone', version: '1.0.0', undo: true })).statusCode).toBe(200);
    expect(await latest()).toBe('1.0.0');
  });

  it('leaves the entry alone when a yank is refused', async () => {
    const before = await registryState(t.registry, t.data);
    expect((await yank(mallory, { module: 'alice/json', version: '0.3.0', reason: 'mine' })).statusCode).toBe(403);
    expect(await registryState(t.registry, t.data)).toEqual(before);
  });

  it('indexes an import: every module with a version left, none for a module its yanked.json yanks entirely', async () => {
    const line = (name: string, version: string, more: object = {}) =>
      `${JSON.stringify({ name, version, ...more, checksum: 'c'.repeat(64) })}\n`;
    const summary = await importMoonbit(t.registry, t.registry.repos.get('imported')!, {
      describe: 'directory',
      files: [
        {
          path: 'user/carol/kit.index',
          body: Buffer.from(line('carol/kit', '2.0.0', { keywords: ['kit'], deps: { 'carol/base': '1.0.0' } })),
        },
        { path: 'user/carol/base.index', body: Buffer.from(line('carol/base', '1.0.0')) },
        { path: 'user/carol/old.index', body: Buffer.from(line('carol/old', '0.1.0')) },
        {
          path: 'yanked.json',
          body: Buffer.from(JSON.stringify({ yankedPackages: [{ name: 'carol/old', version: '0.1.0', reason: 'obsolete' }] })),
        },
      ],
      ignored: [],
      zips: new Map(),
    });
    expect(summary.added).toBe(3);
    expect((await hits('carol')).map((h) => [h.package, h.latestVersion]).sort()).toEqual([
      ['carol/base', '1.0.0'],
      ['carol/kit', '2.0.0'],
    ]);
    const base = (await page('/-/packages/imported/carol/base')).body;
    expect(base).toContain('<a class="name" href="/-/packages/imported/carol/kit">carol/kit</a>');
  });
});
