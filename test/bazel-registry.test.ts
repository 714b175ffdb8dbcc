/**
 * A hosted Bazel registry loaded from a real BCR snapshot (../shared/fixtures/bcr-sample):
 * every file served byte for byte, and a model of Bazel's registry client (protocols/bazel.md
 * §1, §3, §4, §6) resolving against Larder.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBazelTree } from '../src/formats/bazel/import.js';
import { publishBazelModule } from '../src/formats/bazel/publish.js';
import { inTransaction } from '../src/registry/tx.js';
import { tarGz } from './support/archives.js';
import { PRESUBMIT_YML } from './support/bazel.js';
import { openTestApp, type TestApp } from './support/larder.js';

const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const BCR_REGISTRY_JSON_SHA256 = '8a28e4aff06ee60aed2a8c281907fb8bcbf3b753c91fb5a5c57da3215d5b3497';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let larder: TestApp;

beforeAll(async () => {
  larder = await openTestApp({
    repos: [
      { name: 'bcr', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'internal', format: 'bazel', kind: 'hosted', visibility: 'private' },
      { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
    ],
  });
  await importBazelTree(larder.registry, larder.registry.repos.get('bcr')!, FIXTURE);
});
afterAll(async () => {
  await larder?.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => larder.app.inject({ method: 'GET', url, headers });

describe('serving an imported BCR snapshot', () => {
  it('serves every file with the sha256 of MANIFEST.sha256, CRLF files included', async () => {
    const manifest = fs.readFileSync(path.join(FIXTURE, 'MANIFEST.sha256'), 'utf8').trim().split('\n');
    expect(manifest.length).toBeGreaterThan(1000);
    const mismatches: string[] = [];
    for (const line of manifest) {
      const [hash, rel] = line.split(/\s+/);
      const res = await get(`/bcr/${rel.replace(/^\.\//, '')}`);
      if (res.statusCode !== 200 || sha256(res.rawPayload) !== hash) mismatches.push(`${rel}: ${res.statusCode}`);
    }
    expect(mismatches).toEqual([]);
    const crlf = await get('/bcr/modules/bzlws/0.2.0/MODULE.bazel');
    expect(crlf.rawPayload.includes(Buffer.from('\r\n'))).toBe(true);
  });

  it('serves bazel_registry.json with the hash real lockfiles record', async () => {
    const res = await get('/bcr/bazel_registry.json');
    expect(sha256(res.rawPayload)).toBe(BCR_REGISTRY_JSON_SHA256);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it("gives a new hosted registry the BCR's own bazel_registry.json bytes", async () => {
    const res = await get('/internal/bazel_registry.json', { authorization: larder.adminToken });
    expect(sha256(res.rawPayload)).toBe(BCR_REGISTRY_JSON_SHA256);
  });

  it('marks metadata.json no-cache and version files immutable', async () => {
    expect((await get('/bcr/modules/rules_xz/metadata.json')).headers['cache-control']).toBe('no-cache');
    expect((await get('/bcr/modules/rules_xz/1.0.1/source.json')).headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('answers 404 (never 400/401/403/308 or an HTML page) for everything that is not there', async () => {
    for (const url of [
      '/bcr/modules/no_such_module/1.0.0/MODULE.bazel',
      '/bcr/modules/no_such_module/metadata.json',
      '/bcr/modules/rules_xz/9.9.9/source.json',
      '/bcr/modules/rules_xz/1.0.1/patches/none.patch',
      '/bcr/modules/rules_xz/1.0.1/overlay/BUILD.bazel',
      '/bcr/modules/rules_xz/%2e%2e/metadata.json',
      '/bcr/index.html',
      '/bcr/',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^text\/plain/);
      expect(res.headers['cache-control'], url).toBe('no-cache');
    }
  });

  it('answers HEAD and conditional GETs', async () => {
    const first = await get('/bcr/modules/rules_xz/1.0.1/MODULE.bazel');
    const head = await larder.app.inject({ method: 'HEAD', url: '/bcr/modules/rules_xz/1.0.1/MODULE.bazel' });
    expect(head.statusCode).toBe(200);
    expect(head.rawPayload.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(first.rawPayload.length));
    const again = await get('/bcr/modules/rules_xz/1.0.1/MODULE.bazel', { 'if-none-match': String(first.headers.etag) });
    expect(again.statusCode).toBe(304);
  });
});

describe('registry files with quirks, and configured mirrors', () => {
  it('serves a mirrored version directory with `+` in its name, literally and percent-encoded', async () => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-plus-'));
    try {
      fs.mkdirSync(path.join(tree, 'modules/libplus/1.1.0+abc'), { recursive: true });
      fs.writeFileSync(path.join(tree, 'modules/libplus/1.1.0+abc/MODULE.bazel'), 'module(name = "libplus", version = "1.1.0+abc")\n');
      await importBazelTree(larder.registry, larder.registry.repos.get('bcr')!, tree);
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
    expect((await get('/bcr/modules/libplus/1.1.0+abc/MODULE.bazel')).statusCode).toBe(200);
    expect((await get('/bcr/modules/libplus/1.1.0%2Babc/MODULE.bazel')).statusCode).toBe(200);
    expect((await get('/bcr/modules/libplus/1.1.0 abc/MODULE.bazel')).statusCode).toBe(404);
  });

  it("writes configured mirrors into a new registry's bazel_registry.json", async () => {
    const other = await openTestApp({
      repos: [
        { name: 'mirrored', format: 'bazel', kind: 'hosted', visibility: 'public', mirrors: ['https://larder.example/bazel-mirror'] },
      ],
    });
    try {
      const res = await other.app.inject({ method: 'GET', url: '/mirrored/bazel_registry.json' });
      expect(res.body).toBe('{\n    "mirrors": [\n        "https://larder.example/bazel-mirror"\n    ]\n}\n');
    } finally {
      await other.stop();
    }
  });
});

describe('importing a tree again', () => {
  it('skips files unchanged since they were imported, and still finds a file rewritten in place or a document changed since', async () => {
    const t = await openTestApp({ repos: [{ name: 'again', format: 'bazel', kind: 'hosted', visibility: 'public' }] });
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-again-'));
    try {
      const repo = t.registry.repos.get('again')!;
      const metadata = path.join(tree, 'modules/m/metadata.json');
      fs.mkdirSync(path.join(tree, 'modules/m/1.0.0'), { recursive: true });
      fs.writeFileSync(metadata, '{"versions": ["1.0.0"]}\n');
      fs.writeFileSync(path.join(tree, 'modules/m/1.0.0/MODULE.bazel'), 'module(name = "m", version = "1.0.0")\n');
      const served = async () => (await t.app.inject({ method: 'GET', url: '/again/modules/m/metadata.json' })).body;
      const changes = async () =>
        (
          await t.registry.db
            .selectFrom('index_changes')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n;

      expect(await importBazelTree(t.registry, repo, tree)).toMatchObject({ added: 2, changed: 0 });
      const before = await changes();
      expect(await importBazelTree(t.registry, repo, tree)).toMatchObject({ added: 0, changed: 0, unchanged: 2 });
      expect(await changes()).toBe(before);

      // Same size, modification time set back: the change time still tells.
      const { atime, mtime } = fs.statSync(metadata);
      fs.writeFileSync(metadata, '{"versions": ["1.0.1"]}\n');
      fs.utimesSync(metadata, atime, mtime);
      expect(await importBazelTree(t.registry, repo, tree)).toMatchObject({ added: 0, changed: 1, unchanged: 1 });
      expect(await served()).toBe('{"versions": ["1.0.1"]}\n');

      // A document written by anything but an import is compared with the file again, whatever the file's stat.
      await inTransaction(t.registry, (uow) =>
        t.registry.docs.put(uow, repo.id, 'modules/m/metadata.json', Buffer.from('{"versions": []}\n')),
      );
      expect(await importBazelTree(t.registry, repo, tree)).toMatchObject({ added: 0, changed: 1, unchanged: 1 });
      expect(await served()).toBe('{"versions": ["1.0.1"]}\n');
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
      await t.stop();
    }
  });
});

describe('importing a tree of many modules', () => {
  it('lists modules/ on two threads, every file once, and refuses a symbolic link in either share before writing anything', async () => {
    const t = await openTestApp({ repos: [{ name: 'many', format: 'bazel', kind: 'hosted', visibility: 'public' }] });
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-many-'));
    try {
      const repo = t.registry.repos.get('many')!;
      // Enough module directories for the reader's thread to list the last ones; names whose order by code unit is not
      // the order of their paths (`m-1` < `m.1` < `m/`), files among the directories, and a non-registry file.
      const modules = Array.from({ length: 80 }, (_, i) => `m${String(i).padStart(2, '0')}`).concat(['m99-x', 'm99.x']);
      for (const m of modules) {
        fs.mkdirSync(path.join(tree, 'modules', m, '1.0.0', 'patches'), { recursive: true });
        fs.writeFileSync(path.join(tree, 'modules', m, 'metadata.json'), `{"versions": ["1.0.0"], "m": "${m}"}\n`);
        fs.writeFileSync(path.join(tree, 'modules', m, '1.0.0', 'MODULE.bazel'), `module(name = "${m}", version = "1.0.0")\n`);
        fs.writeFileSync(path.join(tree, 'modules', m, '1.0.0', 'patches', 'a.patch'), `${m}\n`);
      }
      fs.writeFileSync(path.join(tree, 'modules', 'README.md'), 'not a registry file\n');
      const rows = () => t.registry.db.selectFrom('index_docs').select('path').where('repo_id', '=', repo.id).orderBy('path').execute();
      // m10 is listed on this thread, m70 on the reader's.
      for (const m of ['m10', 'm70']) {
        const link = path.join(tree, 'modules', m, '1.0.0', 'patches', 'b.patch');
        fs.symlinkSync('a.patch', link);
        await expect(importBazelTree(t.registry, repo, tree)).rejects.toThrow(`modules/${m}/1.0.0/patches/b.patch is a symbolic link`);
        expect((await rows()).map((r) => r.path)).toEqual(['bazel_registry.json']);
        fs.rmSync(link);
      }
      const summary = await importBazelTree(t.registry, repo, tree);
      expect(summary).toMatchObject({ added: modules.length * 3, changed: 0, ignored: 1, versions: modules.length });
      const stored = (await rows()).map((r) => r.path).filter((p) => p !== 'bazel_registry.json');
      expect(stored).toEqual(
        modules
          .flatMap((m) => [`modules/${m}/1.0.0/MODULE.bazel`, `modules/${m}/1.0.0/patches/a.patch`, `modules/${m}/metadata.json`])
          .sort(),
      );
      for (const m of ['m00', 'm79', 'm99.x']) {
        const res = await t.app.inject({ method: 'GET', url: `/many/modules/${m}/metadata.json` });
        expect(res.body).toBe(`{"versions": ["1.0.0"], "m": "${m}"}\n`);
      }
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
      await t.stop();
    }
  });
});

describe('private registry credentials (netrc Basic, credential-helper Bearer)', () => {
  it('refuses anonymous reads with 401 and a Basic challenge, and accepts Basic and Bearer', async () => {
    const anon = await get('/internal/bazel_registry.json');
    expect(anon.statusCode).toBe(401);
    expect(anon.headers['www-authenticate']).toBe('Basic realm="larder internal"');
    const basic = `Basic ${Buffer.from(`anyone:${larder.adminToken}`).toString('base64')}`;
    expect((await get('/internal/bazel_registry.json', { authorization: basic })).statusCode).toBe(200);
    expect((await get('/internal/bazel_registry.json', { authorization: `Bearer ${larder.adminToken}` })).statusCode).toBe(200);
    expect((await get('/internal/bazel_registry.json', { authorization: 'Bearer larder_wrong' })).statusCode).toBe(401);
  });

  it('answers 404 for modules a token may not see, so Bazel tries the next registry', async () => {
    await larder.registry.auth.createUser('carol');
    const { token } = await larder.registry.auth.createToken({ login: 'carol', scopes: ['read'], packagePattern: 'team_*' });
    const res = await get('/internal/modules/secret_lib/metadata.json', { authorization: `Bearer ${token}` });
    expect(res.statusCode).toBe(404);
  });
});

/** Bazel's registry client, reduced to what protocols/bazel.md §1–§6 specify. */
class BazelClientModel {
  /** URL → sha256 hex, or "not found": MODULE.bazel.lock's registryFileHashes. */
  readonly registryFileHashes: Record<string, string> = {};

  constructor(
    private readonly app: TestApp['app'],
    private readonly registries: string[],
  ) {}

  /** §1: append segments, adding `/` only when the previous text does not end with one; no encoding. */
  static join(base: string, ...segments: string[]): string {
    return segments.reduce((url, s) => (url.endsWith('/') ? url + s : `${url}/${s}`), base);
  }

  private async fetch(url: string): Promise<Buffer | null> {
    const res = await this.app.inject({
      method: 'GET',
      url: new URL(url).pathname,
      headers: { 'user-agent': 'Bazel/release 8.4.2', 'accept-encoding': 'gzip' },
    });
    if (res.statusCode === 404 || res.statusCode === 410) return null;
    if (res.statusCode !== 200) throw new Error(`Error accessing registry ${url}: ${res.statusCode}`);
    return res.rawPayload;
  }

  /** §3.1: the first registry (in --registry order) that has name@version's MODULE.bazel. */
  async discover(name: string, version: string): Promise<{ registry: string; moduleFile: string }> {
    const normalized = version.replace(/\+.*$/, '');
    for (const registry of this.registries) {
      const url = BazelClientModel.join(registry, 'modules', name, normalized, 'MODULE.bazel');
      const body = await this.fetch(url);
      this.registryFileHashes[url] = body ? sha256(body) : 'not found';
      if (body) {
        const text = body.toString('utf8');
        expect(text).toMatch(new RegExp(`name\\s*=\\s*"${name}"`));
        return { registry, moduleFile: text };
      }
    }
    throw new Error(`module not found in registries: ${name}@${version}`);
  }

  /** §3.3: the yank check against the registry that supplied the module. */
  async yankedReason(registry: string, name: string, version: string): Promise<string | null> {
    const body = await this.fetch(BazelClientModel.join(registry, 'modules', name, 'metadata.json'));
    if (!body) return null;
    const yanked = (JSON.parse(body.toString('utf8')).yanked_versions ?? {}) as Record<string, string>;
    return yanked[version] ?? null;
  }

  /** §3.4: source.json and, for archives, bazel_registry.json (both pinned in the lockfile). */
  async repoSpec(registry: string, name: string, version: string): Promise<{ source: Record<string, unknown>; mirrors: string[] }> {
    const url = BazelClientModel.join(registry, 'modules', name, version, 'source.json');
    const body = await this.fetch(url);
    if (!body) throw new Error(`Module ${name}@${version}'s source.json not found in registry ${registry}`);
    this.registryFileHashes[url] = sha256(body);
    const regUrl = BazelClientModel.join(registry, 'bazel_registry.json');
    const reg = await this.fetch(regUrl);
    this.registryFileHashes[regUrl] = reg ? sha256(reg) : 'not found';
    const mirrors = reg && reg.toString().trim() ? ((JSON.parse(reg.toString()).mirrors ?? []) as string[]) : [];
    return { source: JSON.parse(body.toString('utf8')), mirrors };
  }

  /** §5.3.1: the archive URLs in the order Bazel tries them: mirrors (authority + path appended), url, mirror_urls. */
  static archiveUrls(source: Record<string, unknown>, mirrors: string[]): string[] {
    const url = new URL(String(source.url));
    const viaMirror = mirrors.map((m) => BazelClientModel.join(m, `${url.host}${url.pathname}${url.search}`.replace(/^\//, '')));
    return [...new Set([...viaMirror, url.href, ...((source.mirror_urls as string[] | undefined) ?? [])])];
  }

  /** §3.5: downloads an archive from a URL this test server answers, and checks it against the integrity. */
  async fetchArchive(url: string, integrity: string): Promise<Buffer> {
    const body = await this.fetch(url);
    if (!body) throw new Error(`archive ${url} not found`);
    const [algo] = integrity.split('-');
    expect(`${algo}-${createHash(algo).update(body).digest('base64')}`).toBe(integrity);
    return body;
  }
}

describe('a model of the Bazel client against Larder', () => {
  const base = 'http://larder.test';

  it('builds identical URLs with and without a trailing slash on --registry', () => {
    expect(BazelClientModel.join(`${base}/bcr`, 'modules', 'm', '1.0', 'MODULE.bazel')).toBe(
      BazelClientModel.join(`${base}/bcr/`, 'modules', 'm', '1.0', 'MODULE.bazel'),
    );
  });

  it('falls through a registry that 404s to the next, records hashes like MODULE.bazel.lock, and sees yanks', async () => {
    const client = new BazelClientModel(larder.app, [`${base}/internal-empty`, `${base}/bcr/`]);
    // The first registry does not exist on this server at all: a 404 like any missing module.
    const found = await client.discover('rules_xz', '1.0.0');
    expect(found.registry).toBe(`${base}/bcr/`);
    expect(client.registryFileHashes[`${base}/internal-empty/modules/rules_xz/1.0.0/MODULE.bazel`]).toBe('not found');
    const expected = fs.readFileSync(path.join(FIXTURE, 'modules/rules_xz/1.0.0/MODULE.bazel'));
    expect(client.registryFileHashes[`${base}/bcr/modules/rules_xz/1.0.0/MODULE.bazel`]).toBe(sha256(expected));
    expect(await client.yankedReason(found.registry, 'rules_xz', '1.0.0')).toBe(
      'rules_xz 1.0.0 is yanked due to incorrect source integrity',
    );
    expect(await client.yankedReason(found.registry, 'rules_xz', '1.0.1')).toBeNull();
    const spec = await client.repoSpec(found.registry, 'rules_xz', '1.0.1');
    expect(spec.source.integrity).toMatch(/^sha(256|384|512)-/);
    expect(spec.mirrors).toEqual([]);
    expect(client.registryFileHashes[`${base}/bcr/bazel_registry.json`]).toBe(BCR_REGISTRY_JSON_SHA256);
  });

  it('resolves across two real registries, builds mirror URLs from bazel_registry.json, and verifies the hosted archive', async () => {
    const two = await openTestApp({
      repos: [
        { name: 'team', format: 'bazel', kind: 'hosted', visibility: 'public', mirrors: ['https://mirror.example/bazel-mirror'] },
        { name: 'bcr', format: 'bazel', kind: 'hosted', visibility: 'public' },
      ],
    });
    try {
      await importBazelTree(two.registry, two.registry.repos.get('bcr')!, FIXTURE);
      const text = 'module(name = "team_lib", version = "1.0.0")\n';
      const archive = await tarGz([{ name: 'team_lib-1.0.0/MODULE.bazel', body: text }]);
      const admin = await two.registry.auth.authenticate(two.adminToken);
      await publishBazelModule(
        two.registry,
        two.registry.repos.get('team')!,
        admin,
        {
          module: 'team_lib',
          version: '1.0.0',
          moduleFile: Buffer.from(text),
          archive: { fileName: 'team_lib-1.0.0.tar.gz', data: archive },
          stripPrefix: 'team_lib-1.0.0',
          patches: new Map(),
          overlay: new Map(),
          presubmit: Buffer.from(PRESUBMIT_YML),
        },
        'https://larder.test',
      );
      const client = new BazelClientModel(two.app, ['https://larder.test/team', 'https://larder.test/bcr']);
      expect((await client.discover('team_lib', '1.0.0')).registry).toBe('https://larder.test/team');
      expect((await client.discover('rules_xz', '1.0.1')).registry).toBe('https://larder.test/bcr');
      expect(client.registryFileHashes['https://larder.test/team/modules/rules_xz/1.0.1/MODULE.bazel']).toBe('not found');
      const spec = await client.repoSpec('https://larder.test/team', 'team_lib', '1.0.0');
      expect(spec.mirrors).toEqual(['https://mirror.example/bazel-mirror']);
      expect(BazelClientModel.archiveUrls(spec.source, spec.mirrors)).toEqual([
        'https://mirror.example/bazel-mirror/larder.test/team/archives/team_lib/1.0.0/team_lib-1.0.0.tar.gz',
        'https://larder.test/team/archives/team_lib/1.0.0/team_lib-1.0.0.tar.gz',
      ]);
      const got = await client.fetchArchive(String(spec.source.url), String(spec.source.integrity));
      expect(got.equals(archive)).toBe(true);
    } finally {
      await two.stop();
    }
  });

  it('strips build metadata before building URLs, and reaches upper-case and prerelease versions', async () => {
    const client = new BazelClientModel(larder.app, [`${base}/bcr`]);
    await expect(client.discover('rules_xz', '1.0.1+build.7')).resolves.toMatchObject({ registry: `${base}/bcr` });
    await expect(client.discover('rules_xz', '1.0.0-beta.1')).resolves.toMatchObject({ registry: `${base}/bcr` });
    await expect(client.discover('rules_xz', '7.7.7')).rejects.toThrow('module not found in registries: rules_xz@7.7.7');
  });
});
