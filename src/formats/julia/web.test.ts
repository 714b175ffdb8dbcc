/**
 * Julia package pages and search (issue 12): a hosted registry's packages (versions, yanks with their reasons,
 * dependencies and dependents, owners, README, the snippets), the same through a proxy of a Pkg server serving the
 * real HolyLab registry (../shared/fixtures/julia/HolyLabRegistry) and through a group of both; search following
 * registrations, yanks and unyanks; refusals that change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { registriesBody, serveJuliaUpstream, HOLYLAB, HOLYLAB_TREE, SMALL, BAR, FOO } from '../../../test/support/julia-upstream.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { canonicalTarball } from './tarball.js';
import type { FileTree } from './tree-hash.js';
import { juliaWeb } from './web.js';
import type { PackageView } from '../../registry/package-view.js';
import type { Repo } from '../../registry/repos.js';

const REG = '1b2c3d4e-0000-4000-8000-00000000c0de';
const ALPHA = 'a1a1a1a1-0000-4000-8000-000000000001';
const BETA = 'b2b2b2b2-0000-4000-8000-000000000002';
const GAMMA = 'c3c3c3c3-0000-4000-8000-000000000003';
const TILETREES = 'cd6f60fb-236b-5882-ad4f-250d5433a9a7';
const BOXROIS = '517cc204-9f26-4324-9fcb-b5e88f22b22c';
const LINALG = '37e2e46d-f89d-539d-b4ee-838fcccc9c8e';

const HOSTILE_README = [
  '# Alpha',
  '',
  'Fast <script>alert(1)</script> things.',
  '',
  '[click](javascript:alert(2)) and <a href="javascript:alert(3)">raw</a>',
  '',
  '![pixel](data:image/png;base64,iVBORw0KGgo=) <img src="data:image/png;base64,iVBORw0KGgo=">',
  '',
].join('\n');

let up: FakeUpstream;
let t: TestApp;
const auth = () => ({ authorization: `Bearer ${t.adminToken}` });
const get = (url: string) => t.app.inject({ method: 'GET', url });

function project(name: string, uuid: string, version: string, deps: Record<string, string> = {}, compat: Record<string, string> = {}) {
  const lines = [`name = "${name}"`, `uuid = "${uuid}"`, `version = "${version}"`, '', '[deps]'];
  for (const [n, u] of Object.entries(deps)) lines.push(`${n} = "${u}"`);
  lines.push('', '[compat]', 'julia = "1.6"');
  for (const [n, c] of Object.entries(compat)) lines.push(`${n} = "${c}"`);
  return `${lines.join('\n')}\n`;
}

async function register(projectToml: string, files: Record<string, string> = {}) {
  const tree: FileTree = new Map([
    ['Project.toml', { kind: 'file', data: Buffer.from(projectToml) }],
    ['src/Pkg.jl', { kind: 'file', data: Buffer.from('module Pkg end\n') }],
  ]);
  for (const [k, v] of Object.entries(files)) tree.set(k, { kind: 'file', data: Buffer.from(v) });
  return t.app.inject({
    method: 'PUT',
    url: `/jl/api/registries/${REG}/packages`,
    payload: await canonicalTarball(tree),
    headers: { ...auth(), 'content-type': 'application/gzip' },
  });
}

const yank = (name: string, version: string, how: 'POST' | 'DELETE', body?: object) =>
  t.app.inject({
    method: how,
    url: `/jl/api/registries/${REG}/packages/${name}/${version}/yank`,
    headers: auth(),
    ...(body ? { payload: body } : {}),
  });

/** The text of the page's snippets, as a browser's copy button copies it. */
function snippets(html: string): string[] {
  const decode = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  return [...html.matchAll(/<code id="snippet-\d+">([\s\S]*?)<\/code>/g)].map((m) => decode(m[1]!));
}

/** The rows of the tables these writes touch, and the repo's documents, to check that a refusal changed nothing. */
async function state() {
  const db = t.registry.db;
  const rows = async (table: 'search_entries' | 'search_dependencies' | 'package_readmes') =>
    (await db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r)).sort();
  return {
    entries: await rows('search_entries'),
    dependencies: await rows('search_dependencies'),
    readmes: await rows('package_readmes'),
    reasons: (await db.withTables<import('./schema.js').JuliaTables>().selectFrom('julia_yank_reasons').selectAll().execute()).map((r) =>
      JSON.stringify(r),
    ),
    docs: (await db.selectFrom('index_docs').select(['repo_id', 'path', 'etag']).execute()).map((r) => JSON.stringify(r)).sort(),
  };
}

let smallTree: string;

beforeAll(async () => {
  up = await startFakeUpstream();
  const served = await serveJuliaUpstream(up);
  smallTree = served.small.tree;
  up.set('/registries', {
    body: registriesBody([
      [HOLYLAB, HOLYLAB_TREE],
      [SMALL, smallTree],
    ]),
  });
  t = await openTestApp({
    repos: [
      { name: 'jl', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'up', format: 'julia', kind: 'proxy', visibility: 'public', upstream: up.url },
      { name: 'all', format: 'julia', kind: 'group', visibility: 'public', members: ['jl', 'up'] },
    ],
    outbound: { allowPrivate: ['127.0.0.1'], retries: 0 },
  });
  const created = await t.app.inject({ method: 'POST', url: '/jl/api/registries', payload: { name: 'Team', uuid: REG }, headers: auth() });
  expect(created.statusCode, created.body).toBe(201);
  for (const version of ['0.1.0', '0.2.0', '0.3.0']) {
    const res = await register(project('Alpha', ALPHA, version), version === '0.1.0' ? { 'README.md': HOSTILE_README } : {});
    expect(res.statusCode, res.body).toBe(201);
  }
  const beta = await register(project('Beta', BETA, '1.0.0', { Alpha: ALPHA, LinearAlgebra: LINALG }, { Alpha: '0.2' }), {
    README: 'Beta, in plain text.\n',
  });
  expect(beta.statusCode, beta.body).toBe(201);
  expect((await register(project('Gamma', GAMMA, '1.0.0'))).statusCode).toBe(201);
  const yanked = await yank('Alpha', '0.3.0', 'POST', { reason: 'breaks Beta; use 0.2.0' });
  expect(yanked.statusCode, yanked.body).toBe(200);
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

describe('a hosted package page', () => {
  it('shows the latest version, every version newest first with the yanked one marked with its reason, owners, dependents and the snippets', async () => {
    const res = await get(`/-/packages/jl/${ALPHA}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('<title>Alpha 0.2.0');
    const versions = [...res.body.matchAll(/href="\/-\/packages\/jl\/[^"?]+\?version=([^"]+)"/g)].map((m) => m[1]);
    expect(versions).toEqual(['0.3.0', '0.2.0', '0.1.0']);
    expect(res.body).toMatch(/<span class="badge yanked">yanked<\/span> breaks Beta; use 0.2.0/);
    expect(res.body).toContain('latest');
    // Registered here: each version has a date.
    expect([...res.body.matchAll(/<time datetime="\d{4}-/g)].length).toBeGreaterThanOrEqual(3);
    expect(res.body).toMatch(/<dt>Owners<\/dt><dd>admin<\/dd>/);
    expect(res.body).toContain(`<dt>UUID</dt><dd>${ALPHA}</dd>`);
    expect(res.body).toContain(`<dt>Registry</dt><dd>Team (${REG})</dd>`);
    expect(res.body).toContain('<dt>Julia</dt><dd>1.6.0-1</dd>');
    // Larder's placeholder repo URL for an uploaded package is no link.
    expect(res.body).not.toContain('/jl/packages/Alpha.jl.git');
    expect(res.body).toContain('Depended on by (1)');
    expect(res.body).toContain(`href="/-/packages/jl/${BETA}"`);
    expect(snippets(res.body)).toEqual([
      'export JULIA_PKG_SERVER=https://larder.test/jl',
      'using Pkg\nPkg.Registry.add()\nPkg.add("Alpha")',
    ]);
    // The latest version has no README; the first one has.
    expect(res.body).toContain('This version has no README here.');
  });

  it('shows an older version with the exact Pkg.add, and its README rendered inert', async () => {
    const res = await get(`/-/packages/jl/${ALPHA}?version=0.1.0`);
    expect(res.statusCode).toBe(200);
    expect(snippets(res.body)[1]).toBe('using Pkg\nPkg.Registry.add()\nPkg.add(name="Alpha", version="0.1.0")');
    const readme = /<article class="readme">([\s\S]*?)<\/article>/.exec(res.body)?.[1];
    expect(readme).toBeDefined();
    expect(readme).toContain('<h3>Alpha</h3>');
    expect(readme).toContain('&lt;script&gt;');
    // Raw HTML is shown as text; no element carries a script, a javascript: link or a data: image.
    expect(readme).not.toMatch(/<script\b|<img\b|<a\s[^>]*href="javascript:|<[a-z]+\s[^>]*src="data:/i);
    expect(readme).toContain('[click](javascript:alert(2))');
  });

  it('shows a yanked version with its reason and the way to the latest', async () => {
    const res = await get(`/-/packages/jl/${ALPHA}?version=0.3.0`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('This version is yanked: breaks Beta; use 0.2.0.');
    expect(res.body).toContain(`href="/-/packages/jl/${ALPHA}?version=0.2.0"`);
    expect(res.body).toContain('0.3.0 is yanked: Pkg installs it only where a Manifest already pins it.');
  });

  it('lists dependencies with their compat, linking the ones this repo holds, and marks standard libraries', async () => {
    const res = await get(`/-/packages/jl/${BETA}`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`<a href="/-/packages/jl/${ALPHA}">Alpha</a> <code>0.2</code>`);
    expect(res.body).toMatch(/<li>LinearAlgebra <span class="badge">stdlib<\/span><\/li>|<li>LinearAlgebra\s*<span class="badge">stdlib/);
    expect(res.body).toContain('<p>Beta, in plain text.</p>');
  });

  it('finds a package by its name when one UUID has it, and answers 404 pages for unknown packages and versions', async () => {
    const byName = await get('/-/packages/jl/Beta');
    expect(byName.statusCode).toBe(200);
    expect(byName.body).toContain(`<dt>UUID</dt><dd>${BETA}</dd>`);
    for (const url of [
      `/-/packages/jl/${'0'.repeat(8)}-0000-4000-8000-000000000000`,
      '/-/packages/jl/Nope',
      `/-/packages/jl/${ALPHA}?version=9.9.9`,
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    }
  });
});

describe('search', () => {
  it('finds registered packages with their latest installable version', async () => {
    const res = await get('/-/search?q=alpha');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(new RegExp(`href="/-/packages/jl/${ALPHA}">Alpha</a> <span class="muted">0.2.0</span>`));
    // The group searches its members.
    expect((await get('/-/search?q=Gamma&repo=all')).body).toContain(`href="/-/packages/jl/${GAMMA}"`);
  });

  it('drops a package whose every version is yanked, and brings it back on unyank', async () => {
    expect((await yank('Gamma', '1.0.0', 'POST')).statusCode).toBe(200);
    expect((await get('/-/search?q=Gamma')).body).toContain('No packages match.');
    // The page still shows it (a Manifest may pin a yanked version).
    expect((await get(`/-/packages/jl/${GAMMA}`)).body).toContain('<span class="badge yanked">yanked</span>');
    expect((await yank('Gamma', '1.0.0', 'DELETE')).statusCode).toBe(200);
    expect((await get('/-/search?q=Gamma')).body).toMatch(/>Gamma<\/a> <span class="muted">1.0.0<\/span>/);
  });

  it('follows a yank of the latest version, and the unyank drops the reason', async () => {
    expect((await yank('Alpha', '0.2.0', 'POST', { reason: 'oops' })).statusCode).toBe(200);
    expect((await get('/-/search?q=Alpha')).body).toMatch(/>Alpha<\/a> <span class="muted">0.1.0<\/span>/);
    expect((await yank('Alpha', '0.2.0', 'DELETE')).statusCode).toBe(200);
    expect((await get('/-/search?q=Alpha')).body).toMatch(/>Alpha<\/a> <span class="muted">0.2.0<\/span>/);
    const page = await get(`/-/packages/jl/${ALPHA}`);
    expect(page.body).not.toContain('oops');
    expect(page.body).toContain('breaks Beta; use 0.2.0');
  });

  it('refuses a yank with a malformed reason and a registration of a taken version, changing nothing', async () => {
    const before = await state();
    const badReason = await yank('Alpha', '0.1.0', 'POST', { reason: 42 });
    expect(badReason.statusCode).toBe(400);
    expect(badReason.json()).toEqual({ error: { code: 'BODY_MALFORMED', message: '"reason" must be a string' } });
    const taken = await register(project('Alpha', ALPHA, '0.1.0'), { 'README.md': '# replaced\n' });
    expect(taken.statusCode).toBe(409);
    expect(await state()).toEqual(before);
  });
});

describe('proxy and group pages', () => {
  it('shows a package of an upstream registry read from its tarball, without dates it does not have', async () => {
    const res = await get(`/-/packages/up/${TILETREES}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('<title>TileTrees 2.1.0');
    expect(res.body).toContain('<dt>Julia</dt><dd>1.10.0-1</dd>');
    expect(res.body).toContain(`<dt>Registry</dt><dd>HolyLabRegistry (${HOLYLAB})</dd>`);
    expect(res.body).toContain('<dt>Tree SHA-1</dt><dd>67170c1207e16f1870a1816fea2d9aa15df40d25</dd>');
    expect(res.body).toContain(`<a href="/-/packages/up/${BOXROIS}">BoxROIs</a> <code>1</code>`);
    expect(res.body).toContain('ShotNoise</a> <code>1</code> <span class="badge">weak</span>');
    expect(res.body).toContain('ImageCore <code>0.10</code> <span class="badge">weak</span>');
    expect(res.body).toContain('OffsetArrays <code>1</code>');
    expect(res.body).not.toMatch(/<time datetime=/);
    expect(snippets(res.body)).toEqual([
      'export JULIA_PKG_SERVER=https://larder.test/up',
      'using Pkg\nPkg.Registry.add()\nPkg.add("TileTrees")',
    ]);
    // An older version's own dependencies (Deps.toml ranges): 0.1.0 had Pkg and Test.
    const old = await get(`/-/packages/up/${TILETREES}?version=0.1.0`);
    expect(old.body).toContain('<dt>Julia</dt><dd>0.7-1</dd>');
    expect(old.body).toMatch(/<li>Test\s*<span class="badge">stdlib/);
  });

  it('shows a package of a second upstream registry, with its repository link', async () => {
    const res = await get(`/-/packages/up/${BAR}`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('href="https://example.com/Bar.jl.git"');
    expect(res.body).toContain(`<a href="/-/packages/up/${FOO}">Foo</a>`);
    expect(res.body).toContain(`<dt>Registry</dt><dd>Small (${SMALL})</dd>`);
  });

  it('shows hosted and upstream packages through a group, with the hosted rows of its members', async () => {
    const hosted = await get(`/-/packages/all/${ALPHA}`);
    expect(hosted.statusCode).toBe(200);
    expect(hosted.body).toContain('breaks Beta; use 0.2.0');
    expect([...hosted.body.matchAll(/<time datetime=/g)].length).toBeGreaterThanOrEqual(3);
    expect(snippets(hosted.body)[0]).toBe('export JULIA_PKG_SERVER=https://larder.test/all');
    const upstream = await get(`/-/packages/all/${TILETREES}`);
    expect(upstream.statusCode).toBe(200);
    expect(upstream.body).toContain('<title>TileTrees 2.1.0');
    expect((await get(`/-/packages/jl/${ALPHA}`)).body).toContain('Also served by <a href="/-/repos/all">all</a>');
  });

  it('answers 404 for a UUID no served registry lists', async () => {
    expect((await get(`/-/packages/up/${ALPHA}`)).statusCode).toBe(404);
  });
});

describe('snippets', () => {
  it('add the auth.toml a private repo needs, named as Pkg names the server directory', () => {
    const repo: Repo = { id: 1, name: 'team', format: 'julia', kind: 'group', visibility: 'private', members: [] };
    const view = {
      name: 'Alpha',
      version: '0.2.0',
      latest: '0.2.0',
      versions: [{ version: '0.2.0', publishedAt: null, yanked: false, yankReason: null }],
    } as unknown as PackageView;
    expect(juliaWeb.usage(repo, 'http://localhost:8080/', view)).toEqual([
      expect.objectContaining({ label: 'Shell', code: 'export JULIA_PKG_SERVER=http://localhost:8080/team' }),
      expect.objectContaining({ label: '~/.julia/servers/localhost_8080/auth.toml', code: 'access_token = "<token>"' }),
      expect.objectContaining({ label: 'Julia REPL', code: 'using Pkg\nPkg.Registry.add()\nPkg.add("Alpha")' }),
    ]);
  });
});
