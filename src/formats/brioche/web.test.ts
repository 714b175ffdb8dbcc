/**
 * Brioche in the web UI and search (issue 12), over inject: projects published as `brioche publish` leaves them
 * (artifact, source.json, then `latest` and the version tag) become searchable and get a page with their tags,
 * metadata, dependencies, dependents, owners and the exact snippets to use them; the same pages for a proxy of a
 * fake upstream registry + cache, and for a group over both.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProject, projectBri, putProjectObjects, type BuiltProject } from '../../../test/support/brioche-project.js';
import { basic, hashOf, postTags } from '../../../test/support/brioche-registry.js';
import { tokenFor } from '../../../test/support/cargo.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { registryState } from '../../../test/support/state.js';
import type { PackageView } from '../../registry/package-view.js';
import type { Repo } from '../../registry/repos.js';
import { searchPackages } from '../../registry/search/index.js';
import { LATEST } from './search.js';
import { briocheWeb } from './web.js';

let t: TestApp;
let up: FakeUpstream;
let alice: string;
let bob: string;
let std1: BuiltProject;
let std2: BuiltProject;
let jq: BuiltProject;
let jq2: BuiltProject;
let rg: BuiltProject;

const HOSTILE_README = [
  '# jq',
  '',
  'A lightweight JSON processor.',
  '',
  '<script>alert("readme")</script>',
  '',
  '[click me](javascript:alert(1)) <a href="javascript:alert(2)">raw link</a>',
  '',
  '<img src="data:image/png;base64,AAAA"> ![pixel](data:image/svg+xml;base64,PHN2Zz4=)',
  '',
].join('\n');

const page = (url: string): Promise<LightMyRequestResponse> => t.app.inject({ method: 'GET', url });

/** The text of the page's snippets, in order, as the copy buttons copy it. */
function snippets(html: string): string[] {
  return [...html.matchAll(/<code id="snippet-\d+">([\s\S]*?)<\/code>/g)].map((m) =>
    m[1]!
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;|&#x27;/g, "'")
      .replace(/&amp;/g, '&'),
  );
}

/** The tags of the versions table, in order. */
function versionsListed(html: string, repo: string, project: string): string[] {
  const table = /<h2 id="versions-h">[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
  const href = new RegExp(`href="/-/packages/${repo}/${project}\\?version=([^"]+)"`, 'g');
  return [...table.matchAll(href)].map((m) => decodeURIComponent(m[1]!));
}

/** The `<dd>` after a `<dt>` of the About list. */
function fact(html: string, label: string): string | undefined {
  return new RegExp(`<dt>${label}</dt><dd>([\\s\\S]*?)</dd>`).exec(html)?.[1];
}

/** `brioche publish` into the hosted repo: objects, then `latest` and the version tag in one POST. */
async function publish(name: string, project: BuiltProject, version: string, token: string): Promise<void> {
  await putProjectObjects(t.registry, 'brioche', project);
  const tags = [LATEST, version].map((tag) => ({ projectName: name, tag, projectHash: project.projectHash }));
  const res = await postTags(t.app, 'brioche', tags, basic(token));
  expect(res.statusCode, res.body).toBe(200);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  t = await openTestApp({
    repos: [
      { name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public' },
      { name: 'upstream', format: 'brioche', kind: 'proxy', visibility: 'public', upstream: up.url, ttl: 600_000 },
      { name: 'all', format: 'brioche', kind: 'group', visibility: 'public', members: ['brioche', 'upstream'] },
    ],
    outbound: { allowPrivate: ['127.0.0.1'], retries: 0 },
  });
  alice = await tokenFor(t.registry, 'alice', { scopes: ['publish'] });
  bob = await tokenFor(t.registry, 'bob', { scopes: ['publish'] });
  const std = (version: string, description: string) =>
    buildProject({
      'project.bri': projectBri({
        name: 'std',
        version,
        description,
        license: 'MIT',
        repository: 'https://github.com/brioche-dev/brioche-packages',
        keywords: ['stdlib', 'toolchain'],
      }),
      'brioche.lock': '{"dependencies": {}}',
    });
  std1 = await std('1.0.0', 'The Brioche standard library');
  std2 = await std('1.1.0', 'The Brioche standard library, with a newer toolchain');
  jq = await buildProject({
    'project.bri': projectBri({ name: 'jq', version: '1.7.1', repository: 'https://github.com/jqlang/jq' }, ['std']),
    'brioche.lock': JSON.stringify({ dependencies: { std: std2.projectHash } }),
    'README.md': HOSTILE_README,
  });
  jq2 = await buildProject({
    'project.bri': projectBri({ name: 'jq', version: '1.8.0', repository: 'https://github.com/jqlang/jq' }, ['std']),
    'brioche.lock': JSON.stringify({ dependencies: { std: std2.projectHash } }),
  });
  rg = await buildProject({
    'project.bri': projectBri(
      { name: 'ripgrep', version: '14.1.0', description: 'Recursive line-oriented search', license: 'Unlicense OR MIT' },
      ['std', 'rust'],
    ),
  });
  // The upstream registry and cache of the proxy: ripgrep (and its version tag) only.
  const json = { 'content-type': 'application/json' };
  up.set('/registry/v0/project-tags/ripgrep/latest', { body: `{"projectHash":"${rg.projectHash}"}`, headers: json });
  up.set('/registry/v0/project-tags/ripgrep/14.1.0', { body: `{"projectHash":"${rg.projectHash}"}`, headers: json });
  for (const [key, body] of rg.objects) up.set(`/cache/${key}`, { body });
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

describe('search', () => {
  it('finds a project once it is tagged; its entry follows the latest tag (version, description)', async () => {
    const search = (query: string) =>
      searchPackages(t.registry.db, t.registry.dialect, { query, repoIds: [t.registry.repos.get('brioche')!.id], limit: 10 });
    expect((await search('std')).total).toBe(0);
    await publish('std', std1, '1.0.0', alice);
    const html = (await page('/-/search?q=std')).body;
    expect(html).toContain('href="/-/packages/brioche/std"');
    expect(html).toContain('The Brioche standard library');
    expect((await search('std')).hits).toMatchObject([
      { name: 'std', package: 'std', format: 'brioche', latestVersion: '1.0.0', keywords: ['stdlib', 'toolchain'], match: 'exact' },
    ]);

    await publish('std', std2, '1.1.0', alice);
    expect((await search('std')).hits).toMatchObject([
      { name: 'std', latestVersion: '1.1.0', description: 'The Brioche standard library, with a newer toolchain' },
    ]);
    expect((await search('toolchain')).hits.map((h) => h.name)).toEqual(['std']);
  });

  it('a refused tag update changes nothing: no tag, no search entry, no README', async () => {
    const before = await registryState(t.registry, t.data);
    // Bob owns nothing here: std is alice's.
    const notOwner = await postTags(t.app, 'brioche', [{ projectName: 'std', tag: LATEST, projectHash: std1.projectHash }], basic(bob));
    expect(notOwner.statusCode).toBe(403);
    // A project whose source.json is not in the cache.
    const missing = await postTags(
      t.app,
      'brioche',
      [{ projectName: 'zebrafish', tag: LATEST, projectHash: hashOf('nowhere') }],
      basic(bob),
    );
    expect(missing.statusCode).toBe(400);
    expect(await registryState(t.registry, t.data)).toEqual(before);
    expect((await page('/-/search?q=zebrafish')).body).toContain('No packages match.');
  });
});

describe('the page of a hosted project', () => {
  beforeAll(async () => {
    await publish('jq', jq, '1.7.1', bob);
  });

  it('lists the tags newest first with their dates, marks latest, and shows what the project declares', async () => {
    const res = await page('/-/packages/brioche/std');
    expect(res.statusCode).toBe(200);
    const html = res.body;
    expect(html).toContain('<h1>std <span class="muted">latest</span>');
    expect(versionsListed(html, 'brioche', 'std')).toEqual(['latest', '1.1.0', '1.0.0']);
    expect(html).toMatch(/\?version=latest"[^>]*>latest<\/a><\/td><td><time datetime="\d{4}-/);
    expect(html).toMatch(/>latest<\/a><\/td><td>.*?<\/td><td>0<\/td><td>latest<\/td>/);
    expect(html).toContain('<p>The Brioche standard library, with a newer toolchain</p>');
    expect(fact(html, 'License')).toBe('MIT');
    expect(fact(html, 'Owners')).toBe('alice');
    expect(fact(html, 'Keywords')).toBe('stdlib, toolchain');
    expect(fact(html, 'Repository')).toContain('href="https://github.com/brioche-dev/brioche-packages"');
    expect(fact(html, 'Project hash')).toBe(std2.projectHash);
    expect(fact(html, 'Also tagged')).toBe('1.1.0');
    expect(fact(html, 'Previous project hash')).toBe(std1.projectHash);
    expect(fact(html, 'Artifact')).toBe(std2.archive.hash);
    expect(html).toContain('Depended on by (1)');
    expect(html).toMatch(/<a class="name" href="\/-\/packages\/brioche\/jq">jq<\/a>/);
  });

  it('offers the exact snippets: the dependency in project.bri, the install command, the registry config', async () => {
    expect(snippets((await page('/-/packages/brioche/std')).body)).toEqual([
      'import * as std from "std";\n\nexport const project = {\n  dependencies: {\n    std: "*",\n  },\n};',
      'brioche install -r std',
      [
        'registry_url = "https://larder.test/brioche/registry/"',
        '[cache]',
        'url = "https://larder.test/brioche/cache"',
        'read_only = true',
      ].join('\n'),
    ]);
  });

  it('shows an older tag with its own project, and the brioche.lock line that pins it', async () => {
    const html = (await page('/-/packages/brioche/std?version=1.0.0')).body;
    expect(html).toContain('<h1>std <span class="muted">1.0.0</span>');
    expect(html).toContain('<p>The Brioche standard library</p>');
    expect(fact(html, 'Project hash')).toBe(std1.projectHash);
    expect(fact(html, 'Previous project hash')).toBeUndefined();
    const [dependency, lock, config] = snippets(html);
    expect(dependency).toContain('std: "*"');
    expect(lock).toBe(`"std": "${std1.projectHash}"`);
    expect(config).toContain('registry_url = "https://larder.test/brioche/registry/"');
  });

  it('links its dependencies held here, and renders its README inert', async () => {
    const html = (await page('/-/packages/brioche/jq')).body;
    const deps = /<h2 id="deps-h">[\s\S]*?<\/section>/.exec(html)![0];
    expect(deps).toContain('<a href="/-/packages/brioche/std">std</a> <code>*</code>');
    expect(fact(html, 'Owners')).toBe('bob');
    const readme = /<article class="readme">([\s\S]*?)<\/article>/.exec(html)![1]!;
    expect(readme).toContain('<h3>jq</h3>');
    expect(readme).toContain('A lightweight JSON processor.');
    // Raw HTML is shown as text; no element, link or image comes out of it.
    expect(readme).toContain('&lt;script&gt;alert');
    expect(readme).not.toMatch(/<(script|img)\b/i);
    expect(readme).not.toMatch(/<a [^>]*href="(javascript|data):/i);
    expect(html).not.toContain('<script>alert');
  });

  it('keeps each tag’s README: a tag moved to a project without one has none, the version tag keeps its own', async () => {
    await publish('jq', jq2, '1.8.0', bob);
    expect((await page('/-/packages/brioche/jq')).body).toContain('This version has no README here.');
    expect((await page('/-/packages/brioche/jq?version=1.7.1')).body).toContain('A lightweight JSON processor.');
    expect(versionsListed((await page('/-/packages/brioche/jq')).body, 'brioche', 'jq')).toEqual(['latest', '1.8.0', '1.7.1']);
  });

  it('shows the README of the project a tag names now, not one rendered for that tag before it moved', async () => {
    const jq3 = await buildProject({
      'project.bri': projectBri({ name: 'jq', version: '1.9.0', repository: 'https://github.com/jqlang/jq' }, ['std']),
      'brioche.lock': JSON.stringify({ dependencies: { std: std2.projectHash } }),
      'README.md': '# jq 1.9\n\nStreams by default.\n',
    });
    await publish('jq', jq, '1.7.1', bob);
    expect((await page('/-/packages/brioche/jq')).body).toContain('A lightweight JSON processor.');
    await publish('jq', jq3, '1.9.0', bob);
    const html = (await page('/-/packages/brioche/jq')).body;
    expect(html).toContain('Streams by default.');
    expect(html).not.toContain('A lightweight JSON processor.');
  });

  it('answers 404 for an unknown project or tag, and for names brioche never uses', async () => {
    for (const url of [
      '/-/packages/brioche/nothing',
      '/-/packages/brioche/std?version=9.9.9',
      '/-/packages/brioche/std?version=..',
      '/-/packages/brioche/a%2Fb',
      '/-/packages/upstream/never-upstream',
    ]) {
      const res = await page(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    }
  });
});

describe('pages of a proxy and a group', () => {
  it('a proxy’s page: the upstream tags (latest and its version), what the project declares, no dates', async () => {
    const res = await page('/-/packages/upstream/ripgrep');
    expect(res.statusCode).toBe(200);
    const html = res.body;
    expect(versionsListed(html, 'upstream', 'ripgrep')).toEqual(['latest', '14.1.0']);
    expect(html).toContain('<p>Recursive line-oriented search</p>');
    expect(fact(html, 'License')).toBe('Unlicense OR MIT');
    expect(fact(html, 'Project hash')).toBe(rg.projectHash);
    // Neither dependency is a project the upstream has: listed, not linked.
    const deps = /<h2 id="deps-h">[\s\S]*?<\/section>/.exec(html)![0];
    expect(deps).toContain('<li>rust <code>*</code>');
    expect(deps).toContain('<li>std <code>*</code>');
    expect(up.hits(`/cache/artifacts/${rg.archive.hash}.bar.zst`)).toBe(1);
    expect(snippets(html)[2]).toBe(
      [
        'registry_url = "https://larder.test/upstream/registry/"',
        '[cache]',
        'url = "https://larder.test/upstream/cache"',
        'read_only = true',
      ].join('\n'),
    );
  });

  it('a group’s pages: a hosted member’s project with its dates, a proxy member’s project, the group’s own URLs', async () => {
    const std = (await page('/-/packages/all/std')).body;
    expect(versionsListed(std, 'all', 'std')).toEqual(['latest', '1.1.0', '1.0.0']);
    expect(std).toMatch(/\?version=1\.0\.0"[^>]*>1\.0\.0<\/a><\/td><td><time/);
    expect(fact(std, 'Project hash')).toBe(std2.projectHash);
    expect(snippets(std)[2]).toContain('registry_url = "https://larder.test/all/registry/"');
    const ripgrep = (await page('/-/packages/all/ripgrep')).body;
    expect(versionsListed(ripgrep, 'all', 'ripgrep')).toEqual(['latest', '14.1.0']);
    expect(ripgrep).toContain('<p>Recursive line-oriented search</p>');
    // In the group, std is a project here: the dependency links it.
    expect(ripgrep).toContain('<a href="/-/packages/all/std">std</a>');
  });
});

describe('usage', () => {
  const view = (over: Partial<PackageView>): PackageView => ({
    package: 'foo-bar',
    name: 'foo-bar',
    version: LATEST,
    latest: LATEST,
    description: null,
    license: null,
    keywords: [],
    links: [],
    versions: [],
    dependencies: [],
    facts: [{ label: 'Project hash', value: 'a'.repeat(64) }],
    ...over,
  });
  const repo = (over: Partial<Repo>): Repo =>
    ({ id: 1, name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public', ...over }) as Repo;

  it('quotes a project name that is no identifier, and imports it under one', () => {
    const [dependency] = briocheWeb.usage(repo({}), 'https://h', view({}));
    expect(dependency!.code).toBe(
      'import * as foo_bar from "foo-bar";\n\nexport const project = {\n  dependencies: {\n    "foo-bar": "*",\n  },\n};',
    );
  });

  it('a private repo over plain http: the cache read through S3, allow_http, and the credentials brioche must send', () => {
    const out = briocheWeb.usage(repo({ visibility: 'private' }), 'http://10.0.0.5:8080', view({ version: '2.0.0' }));
    expect(out.map((s) => s.label)).toEqual(['project.bri', 'brioche.lock', '~/.config/brioche/config.toml', 'Shell (private repository)']);
    expect(out[1]!.code).toBe(`"foo-bar": "${'a'.repeat(64)}"`);
    expect(out[2]!.code).toBe(
      ['registry_url = "http://10.0.0.5:8080/bri/registry/"', '[cache]', 'url = "s3://bri"', 'read_only = true', 'allow_http = true'].join(
        '\n',
      ),
    );
    expect(out[3]!.code).toBe(
      [
        'export BRIOCHE_REGISTRY_PASSWORD=<a token with read scope, or the repo password>',
        'export AWS_ENDPOINT_URL_S3=http://10.0.0.5:8080/-/s3 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=<read key id> AWS_SECRET_ACCESS_KEY=<secret>',
      ].join('\n'),
    );
  });
});
