/**
 * A TypeScript model of what `moon update` / `moon add` do against a registry (protocols/moonbit.md §2):
 * clone or pull the index with the real git, fetch symbols.zip with its ETag, read the `.index` files
 * from the checkout, resolve with minimal version selection, download each zip from the URL moon
 * builds and check its sha256 against the index. Run through a hosted repo, a proxy of another
 * Larder over a real socket, and a group of a hosted repo and that proxy.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../src/registry/tx.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { putModule } from './support/moonbit.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const work = tempDir('larder-moon-client-');
const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (cwd: string, ...args: string[]) => run('git', args, { cwd, env });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** application/x-www-form-urlencoded serialisation of a key, as moon's archive URLs use it (§5.1). */
const formUrlEncode = (s: string) => new URLSearchParams({ k: s }).toString().slice(2);

/** One `$MOON_HOME` pointed at one registry with MOONCAKES_REGISTRY. */
class MoonModel {
  readonly warnings: string[] = [];
  private symbolsEtag: string | null = null;
  constructor(
    readonly registry: string,
    readonly home: string,
  ) {}

  get indexDir(): string {
    return path.join(this.home, 'registry', 'index');
  }

  /** `moon update`: clone when there is no index, else pull main; then symbols.zip, best effort. */
  async update(): Promise<'cloned' | 'pulled'> {
    const index = `${this.registry}/git/index`;
    let how: 'cloned' | 'pulled';
    if (!fs.existsSync(path.join(this.indexDir, '.git'))) {
      fs.mkdirSync(path.dirname(this.indexDir), { recursive: true });
      await git(this.home, 'clone', '--depth', '1', '--single-branch', '--no-tags', index, this.indexDir);
      how = 'cloned';
    } else {
      expect((await git(this.indexDir, 'config', '--get', 'remote.origin.url')).stdout.trim()).toBe(index);
      await git(this.indexDir, 'pull', 'origin', 'main');
      how = 'pulled';
    }
    const headers: Record<string, string> = { 'user-agent': 'mooncake/0.1.0' };
    if (this.symbolsEtag) headers['if-none-match'] = this.symbolsEtag;
    const res = await fetch(`${this.registry}/symbols.zip`, { headers });
    if (res.status === 200) this.symbolsEtag = res.headers.get('etag');
    else if (res.status !== 304) this.warnings.push(`failed to update symbols: ${res.status}`);
    this.lastSymbols = res.status;
    await res.arrayBuffer();
    return how;
  }
  lastSymbols = 0;

  /** The lines of a module's index file that parse (moon skips the others when listing). */
  lines(module: string): Array<{ version: string; deps?: Record<string, unknown> | null; checksum?: string }> {
    const file = path.join(this.indexDir, 'user', `${module}.index`);
    if (!fs.existsSync(file)) throw new Error(`module not found: ${module}`);
    const out = [];
    for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      try {
        const v = JSON.parse(l) as { version?: unknown };
        if (typeof v.version === 'string') out.push(v as { version: string });
      } catch {
        this.warnings.push(`skipped a line of ${module}`);
      }
    }
    return out;
  }

  /** The checksum of a version: lines scanned from the end, every one of them must parse until the version is found. */
  checksum(module: string, version: string): string {
    const raw = fs
      .readFileSync(path.join(this.indexDir, 'user', `${module}.index`), 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    for (let i = raw.length - 1; i >= 0; i--) {
      const v = JSON.parse(raw[i]!) as { version?: string; checksum?: string };
      if (v.version === version) {
        if (!v.checksum) throw new Error(`No checksum found for version ${version}`);
        return v.checksum;
      }
    }
    throw new Error(`${module} has no version ${version}`);
  }

  /** Minimal version selection: each module at the highest of the minimum versions asked for it. */
  resolve(roots: Record<string, string>): Map<string, string> {
    const chosen = new Map<string, string>();
    const queue = Object.entries(roots);
    while (queue.length) {
      const [module, min] = queue.shift()!;
      if (module === 'moonbitlang/core') continue;
      const have = chosen.get(module);
      if (have && semver.compare(have, min) >= 0) continue;
      const line = this.lines(module)
        .reverse()
        .find((l) => l.version === min);
      if (!line) throw new Error(`${module} has no version ${min}`);
      chosen.set(module, min);
      for (const [dep, spec] of Object.entries(line.deps ?? {}))
        queue.push([dep, typeof spec === 'string' ? spec : String((spec as { version: string }).version)]);
    }
    return chosen;
  }

  /** Downloads every chosen version from the URL moon builds and checks it against the index. */
  async fetchAll(chosen: Map<string, string>): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const [module, version] of chosen) {
      const url = `${this.registry.replace(/\/$/, '')}/user/${formUrlEncode(`${module}/${version}`)}.zip`;
      const res = await fetch(url, { headers: { 'user-agent': 'mooncake/0.1.0' } });
      if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
      expect(res.headers.get('content-encoding')).toBeNull();
      const body = Buffer.from(await res.arrayBuffer());
      expect(sha256(body), `${module}@${version}`).toBe(this.checksum(module, version));
      out.set(`${module}@${version}`, body);
    }
    return out;
  }
}

let origin: TestLarder;
let edge: TestLarder;
const homes = new Map<string, MoonModel>();
const model = (base: string) => {
  let m = homes.get(base);
  if (!m) homes.set(base, (m = new MoonModel(base, fs.mkdtempSync(path.join(work.path, 'home-')))));
  return m;
};

/** Puts a symbols.zip into a hosted repo's documents (Larder has no upload for it; a proxy fetches it from upstream). */
async function putSymbols(larder: TestLarder, repoName: string, body: Buffer): Promise<void> {
  const repo = larder.registry.repos.get(repoName)!;
  await inTransaction(larder.registry, (uow) => larder.registry.docs.put(uow, repo.id, 'symbols.zip', body));
}

beforeAll(async () => {
  origin = await startTestLarder({ repos: [{ name: 'moon', format: 'moonbit', kind: 'hosted', visibility: 'public' }] });
  await putModule(origin.registry, 'moon', 'alice/数据', '1.0.0');
  await putModule(origin.registry, 'moon', 'alice/数据', '1.1.0');
  await putModule(origin.registry, 'moon', 'alice/🦀/nested', '1.0.0+build.1');
  await putModule(origin.registry, 'moon', 'alice/json', '0.1.0');
  await putModule(origin.registry, 'moon', 'alice/json', '0.2.0', {
    deps: { 'alice/数据': '1.0.0', 'alice/🦀/nested': { version: '1.0.0+build.1' }, 'moonbitlang/core': '0.0.0' },
  });
  await putSymbols(origin, 'moon', Buffer.from('PK\x05\x06'.padEnd(22, '\0'), 'latin1'));
  edge = await startTestLarder({
    repos: [
      { name: 'local', format: 'moonbit', kind: 'hosted', visibility: 'public' },
      { name: 'mooncakes', format: 'moonbit', kind: 'proxy', visibility: 'public', upstream: `${origin.url}/moon`, ttl: 0 },
      { name: 'all', format: 'moonbit', kind: 'group', visibility: 'public', members: ['local', 'mooncakes'] },
    ],
    outbound: { allowPrivate: ['127.0.0.1'] },
  });
  await putModule(edge.registry, 'local', 'bob/util', '0.1.0');
  await putModule(edge.registry, 'local', 'bob/app', '1.0.0', { deps: { 'alice/json': '0.2.0', 'bob/util': { version: '0.1.0' } } });
});
afterAll(async () => {
  await edge?.stop();
  await origin?.stop();
  work.remove();
});

const EXPECTED_JSON = new Map([
  ['alice/json', '0.2.0'],
  ['alice/数据', '1.0.0'],
  ['alice/🦀/nested', '1.0.0+build.1'],
]);

describe.each([
  { kind: 'hosted', base: () => `${origin.url}/moon` },
  { kind: 'proxy', base: () => `${edge.url}/mooncakes` },
  { kind: 'group', base: () => `${edge.url}/all` },
])("moon's flow through a $kind repo", ({ base }) => {
  it('clones, resolves alice/json with MVS, downloads and verifies every zip, and revalidates symbols', async () => {
    const moon = model(base());
    expect(await moon.update()).toBe('cloned');
    expect(moon.lastSymbols).toBe(200);
    const chosen = moon.resolve({ 'alice/json': '0.2.0' });
    expect(chosen).toEqual(EXPECTED_JSON);
    const zips = await moon.fetchAll(chosen);
    expect(zips.size).toBe(3);
    // The second update finds symbols.zip unchanged (If-None-Match → 304).
    expect(await moon.update()).toBe('pulled');
    expect(moon.lastSymbols).toBe(304);
    expect(moon.warnings).toEqual([]);
  });

  it('fast-forwards to a new upstream publish with git pull origin main', async () => {
    const moon = model(base());
    const version = `0.3.${homes.size}`;
    await putModule(origin.registry, 'moon', 'alice/json', version, { deps: { 'alice/数据': '1.1.0' } });
    expect(await moon.update()).toBe('pulled');
    expect(moon.resolve({ 'alice/json': version })).toEqual(
      new Map([
        ['alice/json', version],
        ['alice/数据', '1.1.0'],
      ]),
    );
    await moon.fetchAll(moon.resolve({ 'alice/json': version }));
  });
});

it('resolves a hosted module of a group over the proxied ones it depends on', async () => {
  const moon = model(`${edge.url}/all`);
  await moon.update();
  const chosen = moon.resolve({ 'bob/app': '1.0.0' });
  expect(chosen).toEqual(new Map([['bob/app', '1.0.0'], ['bob/util', '0.1.0'], ...EXPECTED_JSON]));
  await moon.fetchAll(chosen);
  // The hosted member's modules are not in the proxy's index.
  const proxied = model(`${edge.url}/mooncakes`);
  await proxied.update();
  expect(() => proxied.lines('bob/app')).toThrow(/module not found/);
});
