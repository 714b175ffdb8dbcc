/**
 * Bazel's fetch sequence (protocols/bazel.md §3, §5.1, §5.3) played over real sockets against a
 * group of a hosted repo and a proxy of a BCR-shaped fake upstream: discovery of MODULE.bazel for
 * every dependency, the yank check, source.json and bazel_registry.json, then each needed archive
 * through the mirrors the registry lists (falling through on 404, as Bazel does), checked against
 * the SRI of its source.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesSri, sri } from '../src/core/sri.js';
import { readModuleFile } from '../src/formats/bazel/module-file.js';
import { tarGz } from './support/archives.js';
import { hostedPublishBody } from './support/bazel.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { startTestLarder, type TestLarder } from './support/larder.js';

const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');

let up: FakeUpstream;
let larder: TestLarder;
let archive: Buffer;

beforeAll(async () => {
  up = await startFakeUpstream();
  for (const rel of [
    'bazel_registry.json',
    'modules/magic_enum/metadata.json',
    'modules/magic_enum/0.9.6/MODULE.bazel',
    'modules/magic_enum/0.9.6/source.json',
  ]) {
    up.set(`/${rel}`, { body: fs.readFileSync(path.join(FIXTURE, rel)) });
  }
  archive = await tarGz([{ name: 'demo-1.0/MODULE.bazel', body: 'module(name = "demo", version = "1.0")\n' }]);
  up.set('/modules/demo/metadata.json', { body: '{"versions": ["1.0"], "yanked_versions": {}}\n' });
  up.set('/modules/demo/1.0/MODULE.bazel', {
    body: 'module(name = "demo", version = "1.0")\r\nbazel_dep(name = "magic_enum", version = "0.9.6")\r\n',
  });
  up.set('/modules/demo/1.0/source.json', {
    body: `{\n    "url": "${up.url}/releases/demo-1.0.tar.gz",\n    "integrity": "${sri(archive)}",\n    "strip_prefix": "demo-1.0"\n}`,
  });
  up.set('/releases/demo-1.0.tar.gz', { body: archive });
  larder = await startTestLarder({
    repos: [
      { name: 'local', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'bcr', format: 'bazel', kind: 'proxy', visibility: 'public', upstream: up.url },
      { name: 'all', format: 'bazel', kind: 'group', visibility: 'public', members: ['bcr', 'local'] },
    ],
    outbound: { allowPrivate: ['127.0.0.1'], retries: 0 },
  });
  const { payload, contentType } = await hostedPublishBody('mine', '1.0.0');
  const put = await fetch(`${larder.url}/local/api/modules/mine/1.0.0`, {
    method: 'PUT',
    body: new Uint8Array(payload),
    headers: { 'content-type': contentType, authorization: `Bearer ${larder.adminToken}` },
  });
  expect(put.status).toBeLessThan(300);
});
afterAll(async () => {
  await larder?.stop();
  await up?.close();
});

/** Bazel's URL joining: a `/` only when the previous text does not end with one (bazel.md §1). */
const join = (base: string, rest: string) => (base.endsWith('/') ? base + rest : `${base}/${rest}`);

/** One GET as Bazel's downloader sees it: the body, or 'not-found' for 404/410, or a thrown error for anything else. */
async function bazelGet(url: string): Promise<Buffer | 'not-found'> {
  const res = await fetch(url, { headers: { 'user-agent': 'Bazel/release 8.4.2' }, redirect: 'follow' });
  if (res.status === 404 || res.status === 410) return 'not-found';
  if (res.status !== 200) throw new Error(`Error accessing registry ${url}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('Bazel resolving and fetching through a group of a hosted repo and a BCR proxy', () => {
  it('resolves the graph, checks yanks, reads source.json and fetches archives through the mirror with their SRI', async () => {
    const registries = [`${larder.url}/all/`];
    const roots = [
      ['demo', '1.0'],
      ['mine', '1.0.0'],
    ];
    // 1. Discovery: MODULE.bazel of every name@version in the graph, from the first registry that has it.
    const found = new Map<string, { registry: string; deps: string[][] }>();
    const queue = [...roots];
    while (queue.length) {
      const [name, version] = queue.shift()!;
      const id = `${name}@${version}`;
      if (found.has(id)) continue;
      let hit: { registry: string; body: Buffer } | null = null;
      for (const r of registries) {
        const body = await bazelGet(join(r, `modules/${name}/${version}/MODULE.bazel`));
        if (body !== 'not-found') {
          hit = { registry: r, body };
          break;
        }
      }
      expect(hit, `module not found in registries: ${id}`).not.toBeNull();
      // Byte for byte as the upstream has it (CRLF kept): lockfiles pin this hash.
      if (id === 'magic_enum@0.9.6')
        expect(hit!.body).toEqual(fs.readFileSync(path.join(FIXTURE, 'modules/magic_enum/0.9.6/MODULE.bazel')));
      const decl = readModuleFile(hit!.body.toString('utf8'));
      expect([decl.name, decl.version]).toEqual([name, version]);
      const deps = decl.deps.filter((d) => !d.devDependency).map((d) => [d.name, d.version]);
      found.set(id, { registry: hit!.registry, deps });
      queue.push(...deps);
    }
    expect([...found.keys()].sort()).toEqual(['demo@1.0', 'magic_enum@0.9.6', 'mine@1.0.0']);

    // 3. Yank check on the registry that supplied each selected module; 4. source.json and, once, bazel_registry.json.
    const registryJson = new Map<string, { mirrors?: string[] }>();
    const sources = new Map<string, { url: string; integrity: string; mirror_urls?: string[] }>();
    for (const [id, { registry }] of found) {
      const [name, version] = id.split('@') as [string, string];
      const metadata = await bazelGet(join(registry, `modules/${name}/metadata.json`));
      if (metadata !== 'not-found') {
        const yanked = (JSON.parse(metadata.toString('utf8')) as { yanked_versions?: Record<string, string> }).yanked_versions ?? {};
        expect(yanked[version], `Yanked version detected: ${id}`).toBeUndefined();
      }
      const source = await bazelGet(join(registry, `modules/${name}/${version}/source.json`));
      expect(source, `Module ${id}'s source.json not found`).not.toBe('not-found');
      sources.set(id, JSON.parse((source as Buffer).toString('utf8')) as { url: string; integrity: string });
      if (!registryJson.has(registry)) {
        const body = await bazelGet(join(registry, 'bazel_registry.json'));
        registryJson.set(registry, body === 'not-found' ? {} : (JSON.parse(body.toString('utf8')) as { mirrors?: string[] }));
      }
    }
    const mirrors = registryJson.get(registries[0]!)!.mirrors ?? [];
    expect(mirrors[0]).toBe(`${larder.url}/all/mirror`);

    // 5. Fetch the archives the build needs: mirrors first ({mirror}/{authority}{path?query}), then url, then mirror_urls.
    const fetched: Record<string, string> = {};
    for (const id of ['demo@1.0', 'mine@1.0.0']) {
      const source = sources.get(id)!;
      const original = new URL(source.url);
      const urls = [
        ...mirrors.map((m) => join(m, `${original.host}${original.pathname}${original.search}`)),
        source.url,
        ...(source.mirror_urls ?? []),
      ];
      for (const url of urls) {
        const body = await bazelGet(url).catch(() => 'not-found' as const);
        if (body === 'not-found') continue;
        expect(matchesSri(body, source.integrity), `Checksum mismatch for ${url}`).toBe(true);
        fetched[id] = url.startsWith(mirrors[0]!) ? 'mirror' : 'original';
        break;
      }
    }
    // The proxied module's archive came through Larder's mirror; the hosted one (never promised to the
    // mirror) fell through to its own URL on Larder, as Bazel does after a 404.
    expect(fetched).toEqual({ 'demo@1.0': 'mirror', 'mine@1.0.0': 'original' });
    expect(up.hits('/releases/demo-1.0.tar.gz')).toBe(1);

    // A second build (empty repository cache) gets identical bytes without asking the upstream again.
    const again = await bazelGet(join(mirrors[0]!, `127.0.0.1:${up.port}/releases/demo-1.0.tar.gz`));
    expect(again).toEqual(archive);
    expect(up.hits('/releases/demo-1.0.tar.gz')).toBe(1);
  });
});
