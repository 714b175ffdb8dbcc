/**
 * Bazel module pages and search in the web UI: a hosted module (versions, yanks with reasons, dependencies and
 * dependents, owners, the exact `bazel_dep` and `.bazelrc` snippets), search following publish, yank, unyank and
 * metadata edits, imports, a proxy of real BCR files and a group, and metadata text that must stay inert.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishBody, moduleFile, sourceArchive } from '../../../test/support/bazel.js';
import { startFakeUpstream, type FakeUpstream } from '../../../test/support/fake-upstream.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { importBazelTree } from './import.js';
import { bazelWebParts } from './web.js';

const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const TODAY = new Date().toISOString().slice(0, 10);

let up: FakeUpstream;
let t: TestApp;

const get = (url: string) => t.app.inject({ method: 'GET', url });
const auth = () => ({ authorization: `Bearer ${t.adminToken}` });

/** Publishes `name@version` to the hosted repo, with `deps` lines after module(…) and, for a new module, its metadata. */
async function publish(name: string, version: string, deps = '', metadata?: object) {
  const text = `${moduleFile(name, version)}${deps}`;
  const { payload, contentType } = await publishBody([
    ['MODULE.bazel', text],
    ['archive', await sourceArchive(`${name}-${version}`, text), `${name}-${version}.tar.gz`],
    ['strip_prefix', `${name}-${version}`],
    ...(metadata ? [['metadata', JSON.stringify(metadata)] as [string, string]] : []),
  ]);
  const res = await t.app.inject({
    method: 'PUT',
    url: `/bazel/api/modules/${name}/${version}`,
    payload,
    headers: { ...auth(), 'content-type': contentType },
  });
  expect(res.statusCode, res.body).toBe(201);
}

const yank = (module: string, version: string, reason: string | null) =>
  t.app.inject({
    method: reason === null ? 'DELETE' : 'POST',
    url: `/bazel/api/modules/${module}/${version}/yank`,
    headers: auth(),
    ...(reason === null ? {} : { payload: { reason } }),
  });

const editMetadata = (module: string, body: object) =>
  t.app.inject({ method: 'PATCH', url: `/bazel/api/modules/${module}`, headers: auth(), payload: body });

const decode = (html: string) =>
  html
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The snippets of a package page: label → exact code (and the note under it). */
function snippets(html: string): Map<string, { code: string; note: string | null }> {
  const out = new Map<string, { code: string; note: string | null }>();
  for (const m of html.matchAll(
    /<figcaption><span>([^<]*)<\/span>.*?<code id="snippet-\d+">([\s\S]*?)<\/code><\/pre>(?:<p class="muted">([\s\S]*?)<\/p>)?<\/figure>/g,
  )) {
    out.set(decode(m[1]!), { code: decode(m[2]!), note: m[3] === undefined ? null : decode(m[3]) });
  }
  return out;
}

/** The version rows of a package page, in order: [version, status text]. */
function versionRows(html: string): Array<[string, string]> {
  const body = /<h2 id="versions-h">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!;
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => {
    const cells = [...row[1]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => decode(c[1]!.replace(/<[^>]+>/g, '')).trim());
    return [cells[0]!, cells[3]!];
  });
}

/** The search hits' [name, latest version] for a query. */
async function hits(q: string, repo = ''): Promise<Array<[string, string]>> {
  const res = await get(`/-/search?q=${encodeURIComponent(q)}${repo ? `&repo=${repo}` : ''}`);
  expect(res.statusCode).toBe(200);
  return [...res.body.matchAll(/<a class="name" href="[^"]*">([^<]*)<\/a> (?:<span class="muted">([^<]*)<\/span>)?/g)].map((m) => [
    m[1]!,
    m[2] ?? '',
  ]);
}

const entryRows = (module: string) =>
  Promise.all([
    t.registry.db.selectFrom('search_entries').selectAll().where('package', '=', module).execute(),
    t.registry.db.selectFrom('search_dependencies').selectAll().where('package', '=', module).orderBy('dependency_key').execute(),
  ]);

beforeAll(async () => {
  up = await startFakeUpstream();
  for (const line of fs.readFileSync(path.join(FIXTURE, 'MANIFEST.sha256'), 'utf8').trim().split('\n')) {
    const rel = line.split(/\s+/)[1]!.replace(/^\.\//, '');
    up.set(`/${rel}`, { body: fs.readFileSync(path.join(FIXTURE, rel)) });
  }
  t = await openTestApp({
    repos: [
      { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'imported', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'bcr', format: 'bazel', kind: 'proxy', visibility: 'public', upstream: up.url },
      { name: 'all', format: 'bazel', kind: 'group', visibility: 'public', members: ['bcr', 'bazel'] },
    ],
    outbound: { retries: 0 },
  });
  const greeter = {
    homepage: 'https://greeter.example/docs',
    maintainers: [{ name: 'Grace Hopper', github: 'grace', email: 'grace@example.com' }],
    repository: ['github:example/greeter'],
  };
  await publish('greeter', '1.0.0', 'bazel_dep(name = "platforms", version = "0.0.10")\n', greeter);
  await publish('greeter', '1.2.0', 'bazel_dep(name = "platforms", version = "0.0.11")\n');
  await publish('greeter', '1.10.0', 'bazel_dep(name = "platforms", version = "0.0.11")\n');
  expect((await yank('greeter', '1.2.0', 'CVE-2026-1: use 1.10.0')).statusCode).toBe(200);
  await publish(
    'app',
    '1.0.0',
    'bazel_dep(name = "greeter", version = "1.10.0")\nbazel_dep(name = "rules_testing", version = "0.6.0", dev_dependency = True)\nbazel_dep(name = "platforms", version = "0.0.11")\n',
  );
});
afterAll(async () => {
  await t?.stop();
  await up?.close();
});

describe('the page of a hosted module', () => {
  it('shows versions newest first with the yanked mark and reason, owners, facts, links and the exact snippets', async () => {
    const res = await get('/-/packages/bazel/greeter');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<h1>greeter <span class="muted">1.10.0</span>');
    expect(versionRows(res.body)).toEqual([
      ['1.10.0', 'latest'],
      ['1.2.0', 'yanked CVE-2026-1: use 1.10.0'],
      ['1.0.0', ''],
    ]);
    expect(res.body).toContain(`<time datetime="${TODAY}`);
    expect(res.body).toMatch(/<dt>Owners<\/dt><dd>admin<\/dd>/);
    expect(res.body).toMatch(/<dt>compatibility_level<\/dt><dd>1<\/dd>/);
    expect(res.body).toMatch(/<dt>Maintainers<\/dt><dd>Grace Hopper<\/dd>/);
    expect(res.body).toContain('<dt>Source archive</dt><dd>https://larder.test/bazel/archives/greeter/1.10.0/greeter-1.10.0.tar.gz</dd>');
    expect(res.body).toMatch(/<dt>Integrity<\/dt><dd>sha256-[A-Za-z0-9+/]{43}=<\/dd>/);
    expect(res.body).toContain('<dt>Homepage</dt><dd><a href="https://greeter.example/docs"');
    expect(res.body).toContain('<dt>Repository</dt><dd><a href="https://github.com/example/greeter"');
    expect(res.body).toContain('<dt>License</dt><dd><span class="muted">not stated</span>');
    expect(res.body).toContain('This version has no README here.');
    const use = snippets(res.body);
    expect([...use.keys()]).toEqual(['MODULE.bazel', '.bazelrc']);
    expect(use.get('MODULE.bazel')).toEqual({ code: 'bazel_dep(name = "greeter", version = "1.10.0")', note: null });
    expect(use.get('.bazelrc')!.code).toBe('common --registry=https://larder.test/bazel\ncommon --registry=https://bcr.bazel.build');
    expect(use.get('.bazelrc')!.note).toContain('the BCR is listed again after this one');
    expect(res.body).toContain('Also served by <a href="/-/repos/all">all</a>');
  });

  it('lists the packages here that depend on it', async () => {
    const res = await get('/-/packages/bazel/greeter');
    expect(res.body).toContain('Depended on by (1)');
    expect(res.body).toContain('<a class="name" href="/-/packages/bazel/app">app</a>');
    // platforms is named by both, but nothing here is called platforms: its page would be a 404.
    expect((await get('/-/packages/bazel/platforms')).statusCode).toBe(404);
  });

  it('shows the dependencies of the version with their versions, links the ones held here and marks dev ones', async () => {
    const res = await get('/-/packages/bazel/app');
    const deps = /<h2 id="deps-h">[\s\S]*?<\/ul>/.exec(res.body)![0];
    const items = [...deps.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]);
    expect(items).toEqual([
      '<a href="/-/packages/bazel/greeter">greeter</a> <code>1.10.0</code> ',
      'platforms <code>0.0.11</code> ',
      'rules_testing <code>0.6.0</code> <span class="badge">dev</span>',
    ]);
  });

  it('shows an older version on ?version=, a yanked one with its reason and the flag Bazel needs', async () => {
    const old = await get('/-/packages/bazel/greeter?version=1.0.0');
    expect(old.statusCode).toBe(200);
    expect(old.body).toContain('<h1>greeter <span class="muted">1.0.0</span>');
    expect(old.body).toContain('platforms <code>0.0.10</code>');
    expect(snippets(old.body).get('MODULE.bazel')!.code).toBe('bazel_dep(name = "greeter", version = "1.0.0")');

    const yanked = await get('/-/packages/bazel/greeter?version=1.2.0');
    expect(yanked.statusCode).toBe(200);
    expect(yanked.body).toContain('<span class="badge yanked">yanked</span>');
    expect(decode(yanked.body)).toContain('This version is yanked: CVE-2026-1: use 1.10.0.');
    expect(yanked.body).toContain('The latest version is <a href="/-/packages/bazel/greeter?version=1.10.0">1.10.0</a>');
    expect(snippets(yanked.body).get('MODULE.bazel')).toEqual({
      code: 'bazel_dep(name = "greeter", version = "1.2.0")',
      note: '1.2.0 is yanked: Bazel refuses it unless you add --allow_yanked_versions=greeter@1.2.0; 1.10.0 is the latest version.',
    });
  });

  it('answers 404 for an unknown module or version, and for names that are not a module', async () => {
    for (const url of [
      '/-/packages/bazel/nope',
      '/-/packages/bazel/greeter?version=9.9.9',
      '/-/packages/bazel/greeter?version=..',
      '/-/packages/bazel/greeter/1.0.0',
      '/-/packages/nowhere/greeter',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
    }
  });

  it('renders metadata text inert: markup escaped, script and data URLs never linked', async () => {
    await publish('hostile', '1.0.0', '', {
      homepage: 'javascript:alert(1)',
      maintainers: [{ name: '<script>alert("m")</script>', github: 'x" onmouseover="alert(1)' }],
      repository: ['data:text/html,<script>alert(1)</script>', 'https://example.com/"><script>alert(2)</script>'],
    });
    const res = await get('/-/packages/bazel/hostile');
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toMatch(/<script>alert/);
    expect(res.body).not.toMatch(/href="(javascript|data):/i);
    expect(res.body).toContain('&lt;script>alert(&quot;m&quot;)&lt;/script>');
    const search = await get('/-/search?q=hostile');
    expect(search.body).not.toMatch(/<script>alert/);
  });
});

describe('search over Bazel modules', () => {
  it('finds a module after publish by name, maintainer and homepage, with its latest version', async () => {
    expect(await hits('greeter')).toEqual([['greeter', '1.10.0']]);
    expect(await hits('Hopper')).toEqual([['greeter', '1.10.0']]);
    expect(await hits('greeter.example')).toEqual([['greeter', '1.10.0']]);
  });

  it('follows yank, unyank and metadata edits; a refused yank changes nothing', async () => {
    await publish('tracker', '1.0.0', '', { homepage: 'https://tracker.example', maintainers: [{ name: 'Ada' }], repository: [] });
    await publish('tracker', '2.0.0', 'bazel_dep(name = "greeter", version = "1.10.0")\n');
    expect(await hits('tracker')).toEqual([['tracker', '2.0.0']]);
    const before = await entryRows('tracker');
    expect(before[1].map((d) => d.dependency_key)).toEqual(['greeter']);

    // The latest version may be yanked only once the module is deprecated (the BCR's rule).
    expect((await yank('tracker', '2.0.0', 'broken')).statusCode).toBe(400);
    expect(await entryRows('tracker')).toEqual(before);

    expect((await editMetadata('tracker', { deprecated: 'use greeter', homepage: 'https://elsewhere.example' })).statusCode).toBe(200);
    expect((await yank('tracker', '2.0.0', 'broken')).statusCode).toBe(200);
    expect(await hits('tracker')).toEqual([['tracker', '1.0.0']]);
    expect(await hits('elsewhere')).toEqual([['tracker', '1.0.0']]);
    const search = await get('/-/search?q=tracker');
    expect(search.body).toContain('Deprecated: use greeter · https://elsewhere.example · maintained by Ada');
    // 1.0.0 depends on nothing: tracker no longer counts among greeter's dependents.
    expect((await entryRows('tracker'))[1]).toEqual([]);

    expect((await yank('tracker', '1.0.0', 'also broken')).statusCode).toBe(200);
    expect(await hits('tracker')).toEqual([]);
    expect(await entryRows('tracker')).toEqual([[], []]);
    // Still a page: every version yanked, the newest shown.
    const page = await get('/-/packages/bazel/tracker');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>tracker <span class="muted">2.0.0</span>');
    expect(decode(page.body)).toContain('<p>Deprecated: use greeter</p>');

    expect((await yank('tracker', '2.0.0', null)).statusCode).toBe(200);
    expect(await hits('tracker')).toEqual([['tracker', '2.0.0']]);
    expect((await entryRows('tracker'))[1].map((d) => d.dependency_key)).toEqual(['greeter']);
  });

  it('indexes what `larder import bazel` loads, and modules whose every version is yanked not at all', async () => {
    await importBazelTree(t.registry, t.registry.repos.get('imported')!, FIXTURE);
    expect(await hits('rules_tar', 'imported')).toEqual([['rules_tar', '1.0.1']]);
    expect(await hits('bazel_gomock', 'imported')).toEqual([['bazel_gomock', '0.2.0']]);
    expect(await hits('rules_directory', 'imported')).toEqual([]);
    expect(await hits('Karpov', 'imported')).toEqual([['ahab', '0.2.0']]);
    const xz = await get('/-/packages/imported/rules_xz');
    expect(xz.body).toContain('<a class="name" href="/-/packages/imported/rules_tar">rules_tar</a>');
    const entries = await t.registry.db
      .selectFrom('search_entries')
      .select('package')
      .where('repo_id', '=', t.registry.repos.get('imported')!.id)
      .execute();
    // Every module of the sample but the three whose every version is yanked.
    const unlisted = ['rules_directory', 'rules_objc', 'rules_rust_mutation'];
    const expected = fs.readdirSync(path.join(FIXTURE, 'modules')).filter((m) => !unlisted.includes(m));
    expect(entries.map((e) => e.package).sort()).toEqual(expected.sort());
  });
});

describe('pages of a proxy and a group', () => {
  it('shows a proxied module from the upstream documents: versions, yanks, dependencies, source, no dates', async () => {
    const res = await get('/-/packages/bcr/rules_tar');
    expect(res.statusCode).toBe(200);
    expect(versionRows(res.body)).toEqual([
      ['1.0.1', 'latest'],
      ['1.0.0', 'yanked rules_tar 1.0.0 is yanked due to incorrect source integrity'],
      ['1.0.0-beta.5', ''],
      ['1.0.0-beta.4', ''],
      ['1.0.0-beta.3', ''],
      ['1.0.0-beta.2', ''],
      ['1.0.0-beta.1', ''],
    ]);
    expect(res.body).not.toContain('<time');
    // rules_xz is in the upstream, so the proxy holds it; ape is not.
    expect(res.body).toContain('<a href="/-/packages/bcr/rules_xz">rules_xz</a> <code>1.0.1</code>');
    expect(res.body).toContain('<li>ape <code>1.0.1</code> </li>');
    expect(res.body).toContain(
      '<a href="/-/packages/bcr/hermetic_cc_toolchain">hermetic_cc_toolchain</a> <code>3.1.0</code> <span class="badge">dev</span>',
    );
    expect(res.body).toContain('<dt>Maintainers</dt><dd>Matt Clarkson</dd>');
    expect(res.body).toContain('<dt>Homepage</dt><dd><a href="https://gitlab.arm.com/bazel/rules_tar"');
    expect(snippets(res.body).get('.bazelrc')!.code).toBe('common --registry=https://larder.test/bcr');
  });

  it('shows source.json facts of a proxied version', async () => {
    const res = await get('/-/packages/bcr/ahab?version=0.2.0');
    expect(res.body).toContain('<dt>Source archive</dt><dd>https://github.com/mrkkrp/ahab/releases/download/v0.2.0/ahab-0.2.0.tar.gz</dd>');
    expect(res.body).toContain('<dt>Integrity</dt><dd>sha256-TzBpsvL5mV8OcJTwe+PaZVHzDvEc66AAZAuP52QqXcw=</dd>');
    expect(res.body).toContain('<dt>bazel_compatibility</dt><dd>>=8.0.0</dd>');
    expect(res.body).toContain('<dt>compatibility_level</dt><dd>0</dd>');
    expect((await get('/-/packages/bcr/not_upstream')).statusCode).toBe(404);
  });

  it("shows a group's modules from the member that serves them, with the group's snippet", async () => {
    const hosted = await get('/-/packages/all/greeter');
    expect(hosted.statusCode).toBe(200);
    expect(versionRows(hosted.body).map(([v]) => v)).toEqual(['1.10.0', '1.2.0', '1.0.0']);
    expect(snippets(hosted.body).get('.bazelrc')!.code).toBe('common --registry=https://larder.test/all');
    expect(snippets(hosted.body).get('MODULE.bazel')!.code).toBe('bazel_dep(name = "greeter", version = "1.10.0")');
    const proxied = await get('/-/packages/all/ahab');
    expect(proxied.statusCode).toBe(200);
    expect(proxied.body).toContain('<h1>ahab <span class="muted">0.2.0</span>');
    expect((await get('/-/packages/all/nope')).statusCode).toBe(404);
  });
});

describe('snippets', () => {
  it('tells the user of a private repo where Bazel reads the token, and keeps the registry URL free of a trailing slash', () => {
    const repo = { id: 9, name: 'secret', format: 'bazel', kind: 'hosted', visibility: 'private' } as never;
    const view = { name: 'm', version: '1.0', latest: '1.0', versions: [{ version: '1.0', yanked: false }] } as never;
    const [dep, rc] = bazelWebParts.usage(repo, 'https://larder.example:8443/', view);
    expect(dep!.code).toBe('bazel_dep(name = "m", version = "1.0")');
    expect(rc!.code).toBe('common --registry=https://larder.example:8443/secret\ncommon --registry=https://bcr.bazel.build');
    expect(rc!.note).toContain('~/.netrc: machine larder.example login <you> password <token>');
  });
});
