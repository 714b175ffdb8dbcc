/**
 * A TypeScript model of Pkg's client flow against a Pkg server (protocols/julia.md §3): list
 * registries, fetch and verify a registry tarball, read it in place by exact paths, pick a
 * version, fetch the package tarball and verify its tree hash.
 */
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeFileData } from '../src/formats/julia/spool.js';
import { canonicalTarball, treeFromTarball } from '../src/formats/julia/tarball.js';
import { tarTreeHashes, treeHash, type FileTree } from '../src/formats/julia/tree-hash.js';
import { openTestApp, type TestApp } from './support/larder.js';

const REG = '1b2c3d4e-0000-4000-8000-00000000000c';
const FOO = '11111111-2222-4333-8444-55555555555c';
let larder: TestApp;

/** Pkg's side of the protocol, reduced to what §3 specifies. */
class PkgClientModel {
  constructor(private readonly server: string) {}

  private async get(path: string) {
    const res = await larder.app.inject({
      method: 'GET',
      url: `${this.server}${path}`,
      headers: { 'julia-pkg-protocol': '1.0', 'julia-pkg-server': 'https://larder.test', 'accept-encoding': 'zstd, gzip' },
    });
    return res;
  }

  /** §3.2: lines that match are parsed strictly; others are ignored. */
  async registries(): Promise<Map<string, string>> {
    const res = await this.get('/registries');
    expect(res.statusCode).toBe(200);
    const out = new Map<string, string>();
    for (const line of res.body.split('\n')) {
      const m = /^\/registry\/([^/]+)\/([^/]+)$/.exec(line);
      if (!m) continue;
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(m[1]) || !/^[0-9a-f]{40}$/.test(m[2]))
        throw new Error(`unparsable registry line ${line}`);
      out.set(m[1], m[2]);
    }
    return out;
  }

  /** §3.3: download, sniff gzip, verify the tar tree hash (empty dirs counted), read entries by header path as written. */
  async installRegistry(uuid: string, hash: string): Promise<Map<string, Buffer>> {
    const res = await this.get(`/registry/${uuid}/${hash}`);
    expect(res.rawPayload.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const raw = gunzipSync(res.rawPayload);
    const { keepEmpty } = await tarTreeHashes(Readable.from([raw]));
    if (keepEmpty !== hash) throw new Error(`unable to verify download from ${uuid}/${hash}`);
    const files = new Map<string, Buffer>();
    const extract = tar.extract();
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (h.type === 'file') files.set(h.name, Buffer.concat(chunks));
        next();
      });
    });
    await new Promise<void>((resolve, reject) => {
      extract.on('finish', resolve).on('error', reject);
      Readable.from([raw]).pipe(extract);
    });
    if (!files.has('Registry.toml')) throw new Error('Registry.toml not found in the packed registry');
    return files;
  }

  /** The newest non-yanked version of a package, read from the packed registry. */
  resolve(files: Map<string, Buffer>, name: string): { uuid: string; version: string; tree: string } {
    const reg = parseToml(files.get('Registry.toml')!.toString()) as { packages: Record<string, { name: string; path: string }> };
    const [uuid, entry] = Object.entries(reg.packages).find(([, p]) => p.name === name)!;
    const pkg = parseToml(files.get(`${entry.path}/Package.toml`)!.toString()) as { name: string };
    expect(pkg.name).toBe(name);
    const versions = parseToml(files.get(`${entry.path}/Versions.toml`)!.toString()) as Record<
      string,
      { 'git-tree-sha1': string; yanked?: boolean }
    >;
    const live = Object.entries(versions)
      .filter(([, v]) => !v.yanked)
      .map(([k]) => k);
    const version = live.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1)!;
    return { uuid, version, tree: versions[version]['git-tree-sha1'] };
  }

  /** §3.5: the server's package tarball, tree at the root, verified with the directory tree hash. */
  async installPackage(uuid: string, tree: string): Promise<FileTree> {
    const res = await this.get(`/package/${uuid}/${tree}`);
    expect(res.statusCode).toBe(200);
    const files = await treeFromTarball(res.rawPayload, { maxUnpackedSize: 1 << 26, maxEntries: 10_000 });
    if (treeHash(files) !== tree) throw new Error('Downloaded package content does not match expected hash (git-tree-sha1)');
    return files;
  }
}

beforeAll(async () => {
  larder = await openTestApp({ repos: [{ name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' }] });
  const auth = { authorization: `Bearer ${larder.adminToken}` };
  expect(
    (await larder.app.inject({ method: 'POST', url: '/julia/api/registries', payload: { name: 'Team', uuid: REG }, headers: auth }))
      .statusCode,
  ).toBe(201);
  for (const version of ['0.1.0', '0.2.0', '0.3.0']) {
    const tree: FileTree = new Map([
      [
        'Project.toml',
        { kind: 'file', data: Buffer.from(`name = "Foo"\nuuid = "${FOO}"\nversion = "${version}"\n\n[compat]\njulia = "1.6"\n`) },
      ],
      ['src/Foo.jl', { kind: 'file', data: Buffer.from(`module Foo\nconst VERSION = v"${version}"\nend\n`) }],
      ['bin/run', { kind: 'executable', data: Buffer.from('#!/bin/sh\n') }],
    ]);
    const res = await larder.app.inject({
      method: 'PUT',
      url: `/julia/api/registries/${REG}/packages`,
      payload: await canonicalTarball(tree),
      headers: { ...auth, 'content-type': 'application/gzip' },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
  expect(
    (await larder.app.inject({ method: 'POST', url: `/julia/api/registries/${REG}/packages/Foo/0.3.0/yank`, headers: auth })).statusCode,
  ).toBe(200);
});
afterAll(async () => {
  await larder?.stop();
});

describe('Pkg client flow', () => {
  it('lists, installs and reads the registry in place, then installs the newest non-yanked version', async () => {
    const pkg = new PkgClientModel('/julia');
    const registries = await pkg.registries();
    expect([...registries.keys()]).toEqual([REG]);
    const files = await pkg.installRegistry(REG, registries.get(REG)!);
    const chosen = pkg.resolve(files, 'Foo');
    expect(chosen).toMatchObject({ uuid: FOO, version: '0.2.0' });
    const installed = await pkg.installPackage(chosen.uuid, chosen.tree);
    expect((await treeFileData(installed.get('src/Foo.jl')!)).toString()).toContain('v"0.2.0"');
    expect(installed.get('bin/run')?.kind).toBe('executable');
  });

  it('stores artifacts sent with a registration, by tree hash', async () => {
    const artifact: FileTree = new Map([['data/table.csv', { kind: 'file', data: Buffer.from('a,b\n1,2\n') }]]);
    const pkgTree: FileTree = new Map([
      [
        'Project.toml',
        { kind: 'file', data: Buffer.from(`name = "Foo"\nuuid = "${FOO}"\nversion = "0.4.0"\n\n[compat]\njulia = "1.6"\n`) },
      ],
      ['Artifacts.toml', { kind: 'file', data: Buffer.from(`[table]\ngit-tree-sha1 = "${treeHash(artifact)}"\n`) }],
    ]);
    const form = new FormData();
    form.append('package', new Blob([new Uint8Array(await canonicalTarball(pkgTree))]), 'Foo.tar.gz');
    form.append('artifact', new Blob([new Uint8Array(await canonicalTarball(artifact))]), 'table.tar.gz');
    const encoded = new Response(form);
    const res = await larder.app.inject({
      method: 'PUT',
      url: `/julia/api/registries/${REG}/packages`,
      payload: Buffer.from(await encoded.arrayBuffer()),
      headers: { 'content-type': encoded.headers.get('content-type')!, authorization: `Bearer ${larder.adminToken}` },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(JSON.parse(res.body).artifacts).toEqual([treeHash(artifact)]);
    const served = await larder.app.inject({ method: 'GET', url: `/julia/artifact/${treeHash(artifact)}` });
    expect(served.statusCode).toBe(200);
  });

  it('falls back (404) for a package the server does not have', async () => {
    const res = await larder.app.inject({ method: 'GET', url: `/julia/package/${FOO}/${'a'.repeat(40)}` });
    expect(res.statusCode).toBe(404);
  });
});
