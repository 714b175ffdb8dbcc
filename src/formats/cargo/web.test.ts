/**
 * Cargo's package pages and search over inject: a hosted crate (versions newest first, the yanked mark, dependencies
 * by real name, dependents, owners, README rendered inert, the exact snippets), a crates.io proxy's page and a
 * group's, 404s, and search following publish, yank and unyank.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDep, simplePublishBody, storageState } from '../../../test/support/cargo.js';
import { pageSnippets, visibleText } from '../../../test/support/cargo-page.js';
import { fakeCratesIo } from '../../../test/support/fake-crates-io.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { signIn } from '../../../test/support/web.js';
import type { Repo } from '../../registry/repos.js';
import { cargoWeb } from './web.js';

const CRATES_IO = 'https://github.com/rust-lang/crates.io-index';
let up: FakeUpstream;
let t: TestApp;

const proxy = (): Repo => t.registry.repos.get('crates-io')!;

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });

async function publish(name: string, vers: string, meta: Record<string, unknown> = {}): Promise<void> {
  const { body } = await simplePublishBody(name, vers, meta);
  const res = await t.app.inject({
    method: 'PUT',
    url: '/cargo/api/v1/crates/new',
    headers: { authorization: t.adminToken },
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(200);
}

async function yank(name: string, vers: string, undo = false): Promise<void> {
  const res = await t.app.inject({
    method: undo ? 'PUT' : 'DELETE',
    url: `/cargo/api/v1/crates/${name}/${vers}/${undo ? 'unyank' : 'yank'}`,
    headers: { authorization: t.adminToken },
  });
  expect(res.statusCode, res.body).toBe(200);
}

/** The rows of the page's version table: [version, published, status]. */
function versionRows(html: string): string[][] {
  const table = /<h2 id="versions-h">.*?<tbody>(.*?)<\/tbody>/s.exec(html)?.[1] ?? '';
  return [...table.matchAll(/<tr>(.*?)<\/tr>/gs)].map((row) => [...row[1].matchAll(/<td>(.*?)<\/td>/gs)].map((c) => visibleText(c[1])));
}

/** The items of the page's dependency list, as read. */
function dependencyItems(html: string): string[] {
  const list = /<h2 id="deps-h">.*?<\/h2>(.*?)<\/section>/s.exec(html)?.[1] ?? '';
  return [...list.matchAll(/<li>(.*?)<\/li>/gs)].map((li) => visibleText(li[1]));
}

const HOSTILE_README = [
  '# Base',
  '',
  'Hello <script>alert("readme")</script> world.',
  '',
  '[click me](javascript:alert(1)) and [docs](https://docs.example/base).',
  '',
  '<img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(2)">',
  '',
  '![pixel](data:image/png;base64,iVBORw0KGgo=) ![logo](https://img.example/logo.png)',
].join('\n');

beforeAll(async () => {
  up = await startFakeUpstream();
  const io = fakeCratesIo(up);
  await io.add({ name: 'leaf', vers: '1.0.0' });
  await io.add({ name: 'serde-lite', vers: '1.0.0', pubtime: '2021-03-04T05:06:07Z', deps: [{ name: 'leaf', req: '^1' }] });
  await io.add({
    name: 'serde-lite',
    vers: '1.1.0',
    pubtime: '2022-01-02T03:04:05Z',
    deps: [
      { name: 'leaf', req: '^1' },
      { name: 'nowhere', req: '^2', kind: 'dev' },
    ],
  });
  await io.add({ name: 'serde-lite', vers: '1.2.0', pubtime: '2023-01-01T00:00:00Z', yanked: true });
  t = await openTestApp({
    repos: [
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
      { name: 'crates-io', format: 'cargo', kind: 'proxy', visibility: 'public', upstream: `sparse+${up.url}/`, ttl: 600_000 },
      { name: 'all', format: 'cargo', kind: 'group', visibility: 'public', members: ['cargo', 'crates-io'] },
      { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' },
    ],
    outbound: { retries: 0 },
  });
  await publish('Base-Crate', '1.0.0', {
    description: 'The base of everything',
    license: 'MIT OR Apache-2.0',
    repository: 'https://git.example/base',
    homepage: 'javascript:alert(3)',
    documentation: 'https://docs.example/base',
    keywords: ['foundation', 'base'],
    readme: HOSTILE_README,
    readme_file: 'README.md',
    rust_version: '1.70',
    features: { default: ['std'], std: [] },
  });
  await publish('Base-Crate', '1.1.0', { description: 'The base of everything, improved' });
  await publish('Base-Crate', '2.0.0-beta.1', { description: 'The next base' });
  await yank('Base-Crate', '1.1.0');
  await publish('helper', '0.3.0');
  await publish('app-tool', '0.1.0', {
    deps: [
      newDep('Base-Crate', '^1'),
      newDep('helper', '^0.3', { kind: 'build' }),
      newDep('helper', '^0.3', { kind: 'dev' }),
      newDep('helper', '^0.3', { explicit_name_in_toml: 'help', optional: true, target: 'cfg(windows)' }),
      newDep('serde', '^1.0', { registry: CRATES_IO }),
    ],
  });
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

describe('a hosted crate page', () => {
  it('shows the version a new dependant gets, every version newest first with the yanked mark, and the exact snippets', async () => {
    const res = await get('/-/packages/cargo/base_crate');
    expect(res.statusCode).toBe(200);
    const html = res.body;
    expect(html).toContain('<title>Base-Crate 1.0.0 · Larder</title>');
    // A release is picked before a newer pre-release; 1.1.0 is yanked.
    expect(versionRows(html).map(([v, , , status]) => [v, status])).toEqual([
      ['2.0.0-beta.1', ''],
      ['1.1.0', 'yanked'],
      ['1.0.0', 'latest'],
    ]);
    expect(versionRows(html)[2][1]).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(visibleText(html)).toContain('The base of everything');
    expect(pageSnippets(html)).toEqual(
      new Map([
        ['Cargo.toml, under [dependencies]', 'Base-Crate = { version = "1.0.0", registry = "cargo" }'],
        ['Or run', 'cargo add Base-Crate@1.0.0 --registry cargo'],
        [
          '.cargo/config.toml',
          [
            '# ~/.cargo/config.toml (or .cargo/config.toml in your project)',
            '[registries.cargo]',
            'index = "sparse+https://larder.test/cargo/index/"',
            'credential-provider = "cargo:token"',
          ].join('\n'),
        ],
      ]),
    );
  });

  it('shows license, links (only http ones), keywords, facts, owners and the README rendered inert', async () => {
    const html = (await get('/-/packages/cargo/base_crate')).body;
    const about = visibleText(/<h2 id="about-h">.*?<\/dl>/s.exec(html)![0]);
    expect(about).toContain('License MIT OR Apache-2.0');
    expect(about).toContain('Owners admin');
    expect(about).toContain('Rust version 1.70');
    expect(about).toContain('Features default, std');
    expect(about).toMatch(/Checksum \(SHA-256\) [0-9a-f]{64}/);
    expect(about).toContain('Keywords foundation, base');
    expect(html).toContain('href="https://git.example/base"');
    expect(html).toContain('href="https://docs.example/base"');
    expect(html).not.toContain('alert(3)');
    const readme = /<article class="readme">(.*?)<\/article>/s.exec(html)![1];
    expect(readme).toContain('<h3>Base</h3>');
    expect(readme).toContain('href="https://docs.example/base"');
    expect(readme).toContain('src="https://img.example/logo.png"');
    // Raw HTML is shown as text, a javascript: link stays text, a data: image is dropped: nothing runs or loads.
    expect(readme).not.toMatch(/<script|<[a-z][^>]*\son\w+=|href="javascript:|<img[^>]*src="data:/i);
    expect(visibleText(readme)).toContain('Hello <script>alert("readme")</script> world.');
    expect(visibleText(readme)).toContain('[click me](javascript:alert(1))');
  });

  it('keeps the README of a version when a second publish of that version is refused', async () => {
    const rows = () => t.registry.db.selectFrom('package_readmes').selectAll().orderBy('package').orderBy('version').execute();
    const before = { state: await storageState(t.registry, t.data), readmes: await rows() };
    const { body } = await simplePublishBody('Base-Crate', '1.0.0', { readme: '# Replaced' });
    const res = await t.app.inject({
      method: 'PUT',
      url: '/cargo/api/v1/crates/new',
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expect(res.statusCode).toBe(409);
    expect({ state: await storageState(t.registry, t.data), readmes: await rows() }).toEqual(before);
    expect((await get('/-/packages/cargo/base_crate')).body).toContain('<h3>Base</h3>');
  });

  it('shows an older version on ?version=, yanked with a pointer to the latest and a note under the snippet', async () => {
    const html = (await get('/-/packages/cargo/Base-Crate?version=1.1.0')).body;
    expect(html).toContain('<title>Base-Crate 1.1.0 · Larder</title>');
    expect(visibleText(html)).toContain('This version is yanked. The latest version is 1.0.0');
    expect(html).toContain('href="/-/packages/cargo/base_crate?version=1.0.0"');
    expect(pageSnippets(html).get('Cargo.toml, under [dependencies]')).toBe('Base-Crate = { version = "1.1.0", registry = "cargo" }');
    expect(visibleText(html)).toContain('1.1.0 is yanked: a new Cargo.lock gets the newest compatible version that is not');
    // 1.1.0 was published without a README: none is shown rather than another version's.
    expect(html).toContain('This version has no README here.');
  });

  it('lists dependencies by real crate name with their kind, linking those this repo serves', async () => {
    const html = (await get('/-/packages/cargo/app_tool')).body;
    expect(dependencyItems(html)).toEqual([
      'Base-Crate ^1',
      'helper ^0.3 optional, cfg(windows), as help',
      'serde ^1.0 from crates.io',
      'helper ^0.3 build',
      'helper ^0.3 dev',
    ]);
    expect(html).toContain('<a href="/-/packages/cargo/base_crate">Base-Crate</a>');
    expect(html).toContain('<a href="/-/packages/cargo/helper">helper</a>');
    expect(html).not.toContain('/-/packages/cargo/serde');
  });

  it('shows the crates here that depend on it (normal and build dependencies, not dev ones)', async () => {
    const base = (await get('/-/packages/cargo/base_crate')).body;
    expect(base).toContain('Depended on by (1)');
    expect(base).toContain('href="/-/packages/cargo/app_tool"');
    const helper = (await get('/-/packages/cargo/helper')).body;
    expect(helper).toContain('Depended on by (1)');
    const tool = (await get('/-/packages/cargo/app_tool')).body;
    expect(tool).toContain('No package here depends on it.');
  });

  it('answers 404 pages for an unknown crate, an unknown version and a name that is not a crate name, changing nothing', async () => {
    const before = await storageState(t.registry, t.data);
    for (const url of [
      '/-/packages/cargo/no_such_crate',
      '/-/packages/cargo/base_crate?version=9.9.9',
      '/-/packages/cargo/..%2Fconfig.json',
      '/-/packages/cargo/a%20b',
      '/-/packages/secret/base_crate',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    }
    expect(await storageState(t.registry, t.data)).toEqual(before);
  });
});

describe('a crates.io proxy page and a group page', () => {
  it('reads the proxy page from the upstream index: versions with pubtime, the yanked mark, source-replacement snippets', async () => {
    const res = await get('/-/packages/crates-io/serde_lite');
    expect(res.statusCode).toBe(200);
    const html = res.body;
    expect(html).toContain('<title>serde-lite 1.1.0 · Larder</title>');
    expect(versionRows(html)).toEqual([
      ['1.2.0', '2023-01-01', '0', 'yanked'],
      ['1.1.0', '2022-01-02', '0', 'latest'],
      ['1.0.0', '2021-03-04', '0', ''],
    ]);
    expect(dependencyItems(html)).toEqual(['leaf ^1', 'nowhere ^2 dev']);
    expect(html).toContain('<a href="/-/packages/crates-io/leaf">leaf</a>');
    expect(visibleText(html)).toContain('License not stated');
    // The fake upstream is not crates.io, so the proxy is an alternative registry (named apart from Cargo's `crates-io`).
    expect(pageSnippets(html)).toEqual(
      new Map([
        ['Cargo.toml, under [dependencies]', 'serde-lite = { version = "1.1.0", registry = "larder-crates-io" }'],
        ['Or run', 'cargo add serde-lite@1.1.0 --registry larder-crates-io'],
        [
          '.cargo/config.toml',
          [
            `# ~/.cargo/config.toml (or .cargo/config.toml in your project): a mirror of sparse+${up.url}/`,
            '[registries.larder-crates-io]',
            'index = "sparse+https://larder.test/crates-io/index/"',
            'credential-provider = "cargo:token"',
          ].join('\n'),
        ],
      ]),
    );
  });

  it('offers a crates.io proxy as source replacement with a plain dependency line', async () => {
    const view = (await cargoWeb.packageView(
      { registry: t.registry, repo: proxy(), source: t.registry.sources.get('crates-io')! },
      'serde_lite',
    ))!;
    const cratesIo: Repo = { ...proxy(), upstream: undefined };
    expect(cargoWeb.usage(cratesIo, 'https://larder.test', view)).toEqual([
      {
        label: 'Cargo.toml, under [dependencies]',
        code: 'serde-lite = "1.1.0"',
        note: 'Cargo reads "1.1.0" as ^1.1.0: this version or a newer compatible one.',
      },
      { label: 'Or run', code: 'cargo add serde-lite@1.1.0' },
      {
        label: '.cargo/config.toml',
        code: [
          '# ~/.cargo/config.toml (or .cargo/config.toml in your project): unchanged projects fetch their crates.io dependencies through Larder',
          '[source.crates-io]',
          'replace-with = "larder-crates-io"',
          '',
          '[source.larder-crates-io]',
          'registry = "sparse+https://larder.test/crates-io/index/"',
        ].join('\n'),
        note: 'Once per machine (or per project): tells Cargo to use this repository.',
      },
    ]);
    // Build metadata never reaches a requirement (Cargo ignores it there, with a warning).
    expect(cargoWeb.usage(cratesIo, 'https://larder.test', { ...view, version: '1.1.0+build.7' })[0].code).toBe('serde-lite = "1.1.0"');
  });

  it('shows a group page for a hosted member crate (with its hosted details) and a proxied one', async () => {
    const hosted = (await get('/-/packages/all/base_crate')).body;
    expect(hosted).toContain('<title>Base-Crate 1.0.0 · Larder</title>');
    expect(visibleText(hosted)).toContain('The base of everything');
    expect(visibleText(hosted)).toContain('License MIT OR Apache-2.0');
    expect(pageSnippets(hosted).get('Cargo.toml, under [dependencies]')).toBe('Base-Crate = { version = "1.0.0", registry = "all" }');
    expect(pageSnippets(hosted).get('.cargo/config.toml')).toContain('[registries.all]\nindex = "sparse+https://larder.test/all/index/"');
    const proxied = (await get('/-/packages/all/serde-lite?version=1.0.0')).body;
    expect(proxied).toContain('<title>serde-lite 1.0.0 · Larder</title>');
    expect(pageSnippets(proxied).get('Cargo.toml, under [dependencies]')).toBe('serde-lite = { version = "1.0.0", registry = "all" }');
  });

  it('answers 404 for a crate neither the upstream nor the group has', async () => {
    expect((await get('/-/packages/crates-io/absent')).statusCode).toBe(404);
    expect((await get('/-/packages/all/absent')).statusCode).toBe(404);
  });
});

describe('search', () => {
  const hits = async (q: string, cookie?: string) => {
    const res = await get(`/-/search?q=${encodeURIComponent(q)}`, cookie ? { cookie } : {});
    expect(res.statusCode).toBe(200);
    return [...res.body.matchAll(/<a class="name" href="([^"]+)">([^<]+)<\/a> (?:<span class="muted">([^<]+)<\/span>)?/g)].map((m) =>
      `${m[1]} ${m[3] ?? ''}`.trim(),
    );
  };

  it('finds a crate after publish and follows yank and unyank, the version shown included', async () => {
    await publish('walker', '1.0.0', { description: 'walks the yank path' });
    await publish('walker', '1.1.0', { description: 'walks the yank path' });
    expect(await hits('walker')).toEqual(['/-/packages/cargo/walker 1.1.0']);
    await yank('walker', '1.1.0');
    expect(await hits('walker')).toEqual(['/-/packages/cargo/walker 1.0.0']);
    await yank('walker', '1.0.0');
    expect(await hits('walker')).toEqual([]);
    // The page still shows a crate whose every version is yanked (locked builds still use them).
    const page = await get('/-/packages/cargo/walker');
    expect(page.statusCode).toBe(200);
    expect(versionRows(page.body).map((r) => r[3])).toEqual(['yanked', 'yanked']);
    await yank('walker', '1.0.0', true);
    expect(await hits('walker')).toEqual(['/-/packages/cargo/walker 1.0.0']);
  });

  it('finds by description, listing the version a new dependant gets (a release before a newer pre-release)', async () => {
    expect(await hits('next base')).toEqual(['/-/packages/cargo/base_crate 1.0.0']);
  });

  it('finds a private crate only for a signed-in reader', async () => {
    const { body } = await simplePublishBody('hush', '1.0.0');
    const res = await t.app.inject({
      method: 'PUT',
      url: '/secret/api/v1/crates/new',
      headers: { authorization: t.adminToken },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    expect(await hits('hush')).toEqual([]);
    const session = await signIn(t.app, t.adminToken);
    expect(await hits('hush', session.cookie)).toEqual(['/-/packages/secret/hush 1.0.0']);
    expect((await get('/-/packages/secret/hush', { cookie: session.cookie })).statusCode).toBe(200);
  });
});
