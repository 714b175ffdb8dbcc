import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FORMATS } from '../cli/context.js';
import { loadConfig, type RepoConfig } from '../core/config.js';
import type { FormatCore } from '../registry/format.js';
import { openRegistry, type Registry } from '../registry/registry.js';
import type { ProxyContext, ProxyParts, SourceParts } from '../registry/source-parts.js';
import { startFakeUpstream, type FakeUpstream } from '../../test/support/fake-upstream.js';
import { tempDir } from '../../test/support/tmp.js';
import { mirrorTarget } from './mirror-target.js';
import { compileGlob, mirror, type MirrorOptions, type MirrorProgress } from './mirror.js';
import { ProxySource } from './proxy-source.js';
import { upstreamFetch } from './upstream-fetch.js';

/**
 * A test-only format over the fake upstream: `index/{pkg}` (mutable JSON: artifacts with sha256, and
 * dependencies), `meta/{pkg}` (immutable), `files/{pkg}@{v}` (the artifacts), `names` (the listing).
 */
const fakeProxy: ProxyParts = {
  defaultUpstream: 'http://127.0.0.1:1',
  docUrl: (upstream, p) => `${upstream}/${p}`,
  docLifetime: (p) => (p.startsWith('meta/') ? 'immutable' : 'mutable'),
  async artifactOrigin(ctx, key) {
    const pkg = key.slice(0, key.lastIndexOf('@'));
    const doc = await ctx.doc(`index/${pkg}`);
    const entry = doc && (JSON.parse(doc.body.toString()) as Index).artifacts.find((a) => a.key === key);
    return entry ? { url: `${ctx.upstream}/files/${key}`, trusted: true, sha256: entry.sha256, what: `fake ${key}` } : null;
  },
  async mirrorPackage(ctx, pkg) {
    const doc = await ctx.doc(`index/${pkg}`);
    if (!doc) return null;
    await ctx.doc(`meta/${pkg}`);
    const index = JSON.parse(doc.body.toString()) as Index;
    return { artifacts: index.artifacts.map((a) => a.key), dependencies: index.deps };
  },
  async *listPackages(ctx) {
    const doc = await ctx.doc('names');
    if (!doc) return;
    for (const line of doc.body.toString().split('\n')) if (line) yield line;
  },
};
const fakeParts: SourceParts = {
  packageOfDoc: (p) => p.replace(/^(index|meta)\//, ''),
  packageOfArtifact: (k) => k.slice(0, k.lastIndexOf('@')),
  hosted: { artifact: async () => null, hasPackage: async () => false },
  proxy: fakeProxy,
};

type Index = { artifacts: Array<{ key: string; sha256: string }>; deps: string[] };

let up: FakeUpstream;
let registry: Registry;
let dir: { path: string; remove(): void };

/** Opens a registry with one proxy repo of the fake format (its ttl in ms) and builds its ProxySource directly. */
async function open(ttl?: number, more: Partial<RepoConfig> = {}, formats: FormatCore[] = FORMATS): Promise<ProxySource> {
  dir = tempDir('larder-mirror-');
  const config = loadConfig({ cwd: dir.path, env: {}, overrides: { data: path.join(dir.path, 'data'), database: 'sqlite' } });
  // A format no plugin of FORMATS serves: the registry keeps the repo (and its id) and builds no source for it.
  config.repos = [
    { name: 'fake', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: up.url, ...(ttl ? { ttl } : {}), ...more },
    { name: 'cargo', format: 'cargo', kind: 'hosted', visibility: 'public' },
  ];
  registry = await openRegistry(config, formats);
  return new ProxySource(registry, registry.repos.get('fake')!, fakeParts, upstreamFetch(registry.outbound));
}

/** A test-only plugin serving the fake format's proxy repos. */
const fakeFormat: FormatCore = {
  format: 'moonbit',
  kinds: ['proxy'],
  migrations: [],
  parts: fakeParts,
  clientSetup: () => ({ url: '', snippet: '' }),
};

/** Publishes a package at the fake upstream: one artifact per version, and its dependencies. */
function pkg(name: string, versions: string[] = ['1.0.0'], deps: string[] = []): void {
  const artifacts = versions.map((v) => {
    const body = `${name} ${v} `.repeat(50);
    up.set(`/files/${name}@${v}`, { body });
    return { key: `${name}@${v}`, sha256: createHash('sha256').update(body).digest('hex') };
  });
  up.set(`/index/${name}`, { body: JSON.stringify({ artifacts, deps }) });
  up.set(`/meta/${name}`, { body: `meta of ${name}` });
}

const run = (source: ProxySource, opts: Partial<MirrorOptions>) =>
  mirror({ context: source.context, proxy: fakeProxy }, { patterns: [], ...opts });
const fileHits = () => up.requests.filter((r) => r.path.startsWith('/files/')).length;
const stored = async () =>
  (await registry.db.selectFrom('proxy_artifacts').select('key').where('repo_id', '=', registry.repos.get('fake')!.id).execute())
    .map((r) => r.key)
    .sort();

beforeEach(async () => {
  up = await startFakeUpstream();
});
afterEach(async () => {
  await registry?.close();
  dir?.remove();
  await up.close();
});

describe('compileGlob', () => {
  it('treats / as an ordinary character and supports ?, * and classes', () => {
    expect(compileGlob('moonbitlang/*').test('moonbitlang/core')).toBe(true);
    expect(compileGlob('serde*').test('serde_json')).toBe(true);
    expect(compileGlob('serde*').test('xserde')).toBe(false);
    expect(compileGlob('rules_?o').test('rules_go')).toBe(true);
    expect(compileGlob('[a-c]x').test('bx')).toBe(true);
    expect(compileGlob('[!a-c]x').test('bx')).toBe(false);
    expect(compileGlob('a.b').test('axb')).toBe(false);
  });
});

describe('mirror', () => {
  it('mirrors an exact name with its dependencies (breadth-first, each once)', async () => {
    pkg('app', ['1.0.0', '1.1.0'], ['lib', 'util']);
    pkg('lib', ['0.1.0'], ['util']);
    pkg('util', ['2.0.0'], ['lib']);
    pkg('unrelated');
    const source = await open();
    const r = await run(source, { patterns: ['app'] });
    expect(r.failures).toEqual([]);
    expect({ packages: r.packagesMirrored, artifacts: r.artifactsHeld, fetched: r.artifactsFetched }).toEqual({
      packages: 3,
      artifacts: 4,
      fetched: 4,
    });
    expect(await stored()).toEqual(['app@1.0.0', 'app@1.1.0', 'lib@0.1.0', 'util@2.0.0']);
    expect(up.hits('/index/lib')).toBe(1);
    expect(r.bytesFetched).toBeGreaterThan(0);
    // What was mirrored is served from the store.
    expect((await source.artifact('lib@0.1.0'))?.size).toBe('lib 0.1.0 '.length * 50);
  });

  it('--strict mirrors only what the patterns name', async () => {
    pkg('app', ['1.0.0'], ['lib']);
    pkg('lib');
    const source = await open();
    const r = await run(source, { patterns: ['app'], strict: true });
    expect(r.packagesDone).toBe(1);
    expect(await stored()).toEqual(['app@1.0.0']);
    expect(up.hits('/index/lib')).toBe(0);
  });

  it('matches globs against the listing, / included', async () => {
    for (const n of ['moonbitlang/core', 'moonbitlang/x', 'other/core', 'serde', 'serde_json', 'tokio']) pkg(n);
    up.set('/names', { body: ['moonbitlang/core', 'moonbitlang/x', 'other/core', 'serde', 'serde_json', 'tokio'].join('\n') });
    const source = await open();
    const r = await run(source, { patterns: ['moonbitlang/*', 'serde*'] });
    expect(r.failures).toEqual([]);
    expect(await stored()).toEqual(['moonbitlang/core@1.0.0', 'moonbitlang/x@1.0.0', 'serde@1.0.0', 'serde_json@1.0.0']);
  });

  it('--full mirrors everything the upstream lists', async () => {
    for (const n of ['a', 'b', 'c']) pkg(n, ['1.0.0'], ['a']);
    up.set('/names', { body: 'a\nb\nc\n' });
    const source = await open();
    const r = await run(source, { full: true });
    expect(r.failures).toEqual([]);
    expect(await stored()).toEqual(['a@1.0.0', 'b@1.0.0', 'c@1.0.0']);
    expect(up.hits('/index/a')).toBe(1);
  });

  it('refuses globs and --full up front when the format cannot list its packages', async () => {
    const source = await open();
    const { listPackages: _, ...unlisted } = fakeProxy;
    await expect(mirror({ context: source.context, proxy: unlisted }, { patterns: ['serde*'] })).rejects.toThrow(
      /cannot list their packages, so the glob "serde\*" cannot be mirrored; name the packages exactly/,
    );
    await expect(mirror({ context: source.context, proxy: unlisted }, { patterns: [], full: true })).rejects.toThrow(
      /--full cannot be mirrored/,
    );
    expect(up.requests).toEqual([]);
  });

  it('lists every error with what it concerns and goes on; --fail-fast stops at the first', async () => {
    pkg('app', ['1.0.0'], ['gone', 'lib']);
    pkg('lib', ['1.0.0', '2.0.0']);
    up.fault('/files/lib@1.0.0', { kind: 'wrong-bytes' });
    up.fault('/files/lib@2.0.0', { kind: 'status', status: 403 });
    const source = await open();
    const r = await run(source, { patterns: ['app', 'missing'], concurrency: 1 });
    expect(r.failures.map((f) => f.subject).sort()).toEqual([
      'artifact lib@1.0.0',
      'artifact lib@2.0.0',
      'package gone',
      'package missing',
    ]);
    expect(r.failures.find((f) => f.subject === 'package gone')?.message).toMatch(/not found at the upstream \(a dependency of app\)/);
    expect(r.failures.find((f) => f.subject === 'artifact lib@1.0.0')?.message).toMatch(/does not match the sha256/);
    expect(r.errors).toBe(4);
    expect({ packages: r.packagesMirrored, artifacts: r.artifactsHeld }).toEqual({ packages: 2, artifacts: 1 });
    expect(r.stopped).toBe(false);
    expect(await stored()).toEqual(['app@1.0.0']);

    pkg('b');
    pkg('c');
    const ff = await run(source, { patterns: ['missing', 'b', 'c'], failFast: true, concurrency: 1 });
    expect(ff.failures.map((f) => f.subject)).toEqual(['package missing']);
    expect(ff.stopped).toBe(true);
    expect(up.hits('/index/c')).toBe(0);
  });

  it('keeps at most --concurrency requests at the upstream at once', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `p${i}`);
    for (const n of names) pkg(n, ['1.0.0', '2.0.0']);
    up.fault('*', { kind: 'slow', ms: 40 });
    const source = await open();
    const r = await run(source, { patterns: names, concurrency: 3 });
    expect(r.failures).toEqual([]);
    expect(r.artifactsDone).toBe(24);
    expect(up.maxInFlight).toBeLessThanOrEqual(3);
    expect(up.maxInFlight).toBeGreaterThan(1);
  });

  it('a second run fetches only what is missing: no artifact again, immutable documents not asked, mutable ones revalidated (304)', async () => {
    pkg('app', ['1.0.0'], ['lib']);
    pkg('lib');
    const source = await open(1); // ttl 1 ms: every mutable document is due for revalidation
    expect((await run(source, { patterns: ['app'] })).artifactsFetched).toBe(2);
    pkg('app', ['1.0.0', '1.1.0'], ['lib']); // a new version upstream
    up.resetHits();
    await new Promise((r) => setTimeout(r, 5));
    const again = await run(source, { patterns: ['app'] });
    expect(again.failures).toEqual([]);
    expect({ done: again.artifactsDone, fetched: again.artifactsFetched }).toEqual({ done: 3, fetched: 1 });
    expect(up.requests.filter((r) => r.path.startsWith('/files/')).map((r) => r.path)).toEqual(['/files/app@1.1.0']);
    expect(up.hits('/meta/app') + up.hits('/meta/lib')).toBe(0);
    const lib = up.requests.filter((r) => r.path === '/index/lib');
    expect(lib).toHaveLength(1);
    expect(lib[0]!.headers['if-none-match']).toBeTruthy();
    expect(fileHits()).toBe(1);
  });

  it('streams a listing of 50,000 names: only the matches are queued, and --full never runs ahead of the workers', async () => {
    const names = Array.from({ length: 50_000 }, (_, i) => `crate-${i}`);
    names.splice(100, 0, 'serde');
    names.splice(30_000, 0, 'serde_json', 'serde_derive');
    up.set('/names', { body: names.join('\n') });
    for (const n of ['serde', 'serde_json', 'serde_derive']) pkg(n);
    const source = await open();
    const progress: MirrorProgress[] = [];
    const r = await run(source, { patterns: ['serde*'], onProgress: (p) => progress.push(p) });
    expect(r.failures).toEqual([]);
    expect(Math.max(...progress.map((p) => p.packagesQueued))).toBe(3);
    expect(await stored()).toEqual(['serde@1.0.0', 'serde_derive@1.0.0', 'serde_json@1.0.0']);

    // --full over a listing of 50,000 names: the engine pulls a name only when a worker is free.
    let listed = 0;
    let planned = 0;
    let maxAhead = 0;
    const lazy: ProxyParts = {
      ...fakeProxy,
      async *listPackages() {
        for (const n of names) {
          listed++;
          maxAhead = Math.max(maxAhead, listed - planned);
          yield n;
        }
      },
      async mirrorPackage(_ctx: ProxyContext, _pkg: string) {
        planned++;
        return { artifacts: [], dependencies: [] };
      },
    };
    const full = await mirror({ context: source.context, proxy: lazy }, { patterns: [], full: true, concurrency: 4 });
    expect(full.packagesDone).toBe(names.length);
    expect(maxAhead).toBeLessThanOrEqual(5);
  });

  it('mirrorTarget: an offline proxy is mirrored all the same (and then served offline); a hosted repo is refused', async () => {
    pkg('app');
    const served = await open(undefined, { offline: true }, [...FORMATS, fakeFormat]);
    expect(() => mirrorTarget(registry, 'cargo')).toThrow(
      'repository "cargo" is a hosted cargo repository; larder mirror fills proxy repositories (kind = "proxy" in larder.toml)',
    );
    expect(() => mirrorTarget(registry, 'nope')).toThrow('no repository named "nope"; proxy repositories: fake');
    const target = mirrorTarget(registry, 'fake');
    expect(target.offline).toBe(true);
    const r = await mirror(target, { patterns: ['app'] });
    expect(r.failures).toEqual([]);
    expect(await stored()).toEqual(['app@1.0.0']);
    up.resetHits();
    expect((await served.artifact('app@1.0.0'))?.size).toBeGreaterThan(0);
    expect((await (registry.sources.get('fake') as ProxySource).doc('index/app'))?.body.toString()).toContain('app@1.0.0');
    expect(up.requests).toEqual([]);
  });
});
