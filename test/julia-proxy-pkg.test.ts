/**
 * Pkg's request sequence (protocols/julia.md §3.2–3.6) over a real socket against a Julia group of a
 * hosted registry and a proxy of an upstream Pkg server: list registries, install each one (tar tree
 * hash with empty dirs counted, Registry.toml by exact path), resolve, install package tarballs and the
 * artifacts their Artifacts.toml names, each verified by the git tree hash of what it extracts to.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeFileData } from '../src/formats/julia/spool.js';
import { treeFromTarball } from '../src/formats/julia/tarball.js';
import { readTarEntries, tarTreeHashes, treeHash, type FileTree } from '../src/formats/julia/tree-hash.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { juliaPackageTarball } from './support/julia.js';
import {
  BAR,
  HOLYLAB,
  HOLYLAB_TREE,
  HOSTED_REG,
  registriesBody,
  serveJuliaUpstream,
  SMALL,
  type JuliaUpstream,
} from './support/julia-upstream.js';
import { startTestLarder, type TestLarder } from './support/larder.js';

const QUX = '99999999-1111-4222-8333-444444444444';
let up: FakeUpstream;
let served: JuliaUpstream;
let larder: TestLarder;

/** Pkg's headers (§3.1) and a raw GET: libcurl does not decompress, Pkg sniffs the magic bytes itself. */
function pkgGet(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const server = url.slice(0, url.indexOf('/', 'http://'.length)) + '/all';
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      {
        headers: {
          'julia-pkg-protocol': '1.0',
          'julia-pkg-server': server,
          'julia-version': '1.12.1',
          'accept-encoding': 'zstd, gzip',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}

/** §3.3: download, check gzip magic, verify the tar tree hash (empty dirs kept), keep entries by header path as written. */
async function installRegistry(base: string, uuid: string, hash: string): Promise<Map<string, Buffer>> {
  const res = await pkgGet(`${base}/registry/${uuid}/${hash}`);
  expect(res.status).toBe(200);
  expect(res.headers['content-encoding']).toBeUndefined();
  expect(res.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  const tar = gunzipSync(res.body);
  if ((await tarTreeHashes(Readable.from([tar]))).keepEmpty !== hash) throw new Error(`unable to verify download from ${uuid}`);
  const files = new Map<string, Buffer>();
  await readTarEntries(Readable.from([tar]), async ({ header, body }) => {
    if (header.type !== 'file') return;
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    files.set(header.name, Buffer.concat(chunks));
  });
  if (!files.has('Registry.toml')) throw new Error('Registry.toml not found in the packed registry');
  return files;
}

/** §3.5/§3.6: a tarball extracted and verified by the directory tree hash; Pkg falls back elsewhere on a mismatch. */
async function installTree(url: string, tree: string): Promise<FileTree> {
  const res = await pkgGet(url);
  expect(res.status, url).toBe(200);
  const files = await treeFromTarball(res.body, { maxUnpackedSize: 1 << 24, maxEntries: 1000 });
  if (treeHash(files) !== tree) throw new Error(`Downloaded content of ${url} does not match expected hash (git-tree-sha1)`);
  return files;
}

/** The newest non-yanked version of a package named in any installed registry. */
function resolve(registries: Map<string, Map<string, Buffer>>, name: string): { uuid: string; tree: string } {
  for (const files of registries.values()) {
    const reg = parseToml(files.get('Registry.toml')!.toString()) as { packages: Record<string, { name: string; path: string }> };
    const found = Object.entries(reg.packages).find(([, p]) => p.name === name);
    if (!found) continue;
    const versions = parseToml(files.get(`${found[1].path}/Versions.toml`)!.toString()) as Record<
      string,
      { 'git-tree-sha1': string; yanked?: boolean }
    >;
    const newest = Object.keys(versions)
      .filter((v) => !versions[v]!.yanked)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .at(-1)!;
    return { uuid: found[0], tree: versions[newest]!['git-tree-sha1'] };
  }
  throw new Error(`${name} is in no installed registry`);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  served = await serveJuliaUpstream(up);
  up.set('/registries', {
    body: registriesBody([
      [HOLYLAB, HOLYLAB_TREE],
      [SMALL, served.small.tree],
    ]),
  });
  larder = await startTestLarder({
    repos: [
      { name: 'up', format: 'julia', kind: 'proxy', visibility: 'public', upstream: up.url },
      { name: 'mine', format: 'julia', kind: 'hosted', visibility: 'public' },
      { name: 'all', format: 'julia', kind: 'group', visibility: 'public', members: ['up', 'mine'] },
    ],
    outbound: { allowPrivate: ['127.0.0.1'] },
  });
  const auth = { authorization: `Bearer ${larder.adminToken}` };
  const created = await fetch(`${larder.url}/mine/api/registries`, {
    method: 'POST',
    body: JSON.stringify({ name: 'Team', uuid: HOSTED_REG }),
    headers: { ...auth, 'content-type': 'application/json' },
  });
  expect(created.status).toBe(201);
  const registered = await fetch(`${larder.url}/mine/api/registries/${HOSTED_REG}/packages`, {
    method: 'PUT',
    body: new Uint8Array(await juliaPackageTarball('Qux', QUX, '1.0.0')),
    headers: { ...auth, 'content-type': 'application/gzip' },
  });
  expect(registered.status).toBe(201);
});
afterAll(async () => {
  await larder?.stop();
  await up?.close();
});

describe('Pkg against a Julia group (hosted + proxy) over a socket', () => {
  it('lists every registry, installs each verified, then installs hosted and upstream packages and their artifacts', async () => {
    const base = `${larder.url}/all`;
    // §3.2: one GET /registries; lines that match are parsed strictly.
    const list = await pkgGet(`${base}/registries`);
    expect(list.status).toBe(200);
    expect(list.body.toString().endsWith('\n')).toBe(true);
    const listed = new Map<string, string>();
    for (const line of list.body.toString().split('\n')) {
      const m = /^\/registry\/([^/]+)\/([^/]+)$/.exec(line);
      if (!m) continue;
      expect(m[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(m[2]).toMatch(/^[0-9a-f]{40}$/);
      listed.set(m[1]!, m[2]!);
    }
    expect([...listed.keys()]).toEqual([HOSTED_REG, SMALL, HOLYLAB]);
    expect(listed.get(HOLYLAB)).toBe(HOLYLAB_TREE);

    // §3.3: a fresh depot installs every listed registry.
    const registries = new Map<string, Map<string, Buffer>>();
    for (const [uuid, hash] of listed) registries.set(uuid, await installRegistry(base, uuid, hash));
    expect(registries.get(HOLYLAB)!.get('Registry.toml')!.toString()).toContain('name = "HolyLabRegistry"');

    // §3.5: the hosted package and the upstream one, from the server first.
    const qux = resolve(registries, 'Qux');
    expect(qux.uuid).toBe(QUX);
    const quxTree = await installTree(`${base}/package/${qux.uuid}/${qux.tree}`, qux.tree);
    expect((await treeFileData(quxTree.get('src/Qux.jl')!)).toString()).toBe('module Qux end\n');
    const bar = resolve(registries, 'Bar');
    expect(bar).toEqual({ uuid: BAR, tree: served.bar.tree });
    const barTree = await installTree(`${base}/package/${bar.uuid}/${bar.tree}`, bar.tree);

    // §3.6: every artifact its Artifacts.toml names, from the server first.
    const artifacts = parseToml((await treeFileData(barTree.get('Artifacts.toml')!)).toString()) as Record<
      string,
      { 'git-tree-sha1': string }
    >;
    for (const a of Object.values(artifacts)) await installTree(`${base}/artifact/${a['git-tree-sha1']}`, a['git-tree-sha1']);

    // An artifact nobody has: a fast 404, so Pkg moves on to the download URL.
    const t0 = Date.now();
    expect((await pkgGet(`${base}/artifact/${'f'.repeat(40)}`)).status).toBe(404);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
