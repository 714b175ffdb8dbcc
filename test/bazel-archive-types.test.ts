/**
 * Publishing Bazel modules in every archive type Bazel reads for `archive` sources (issue 16), each archive
 * made by the system tool a maintainer would use (tar, gzip, xz, zstd, bzip2, zip, ar): the publish succeeds,
 * the hosted archive is served byte for byte and unpacks to exactly the files packed; each type's bomb and
 * path traversal are refused with a clear message and leave storage as it was.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sri } from '../src/core/sri.js';
import { unpackArchive } from '../src/formats/bazel/source-tree.js';
import { makeAr, makeZip, tarball } from './support/archives.js';
import { publishBody, type Part } from './support/bazel.js';
import { ensureTools } from './support/debian.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { snapshotFiles, tempDir } from './support/tmp.js';

const MiB = 1 << 20;
let larder: TestApp;
const work = tempDir('larder-bazel-types-');

beforeAll(async () => {
  ensureTools(['xz', 'zstd', 'bzip2', 'zip', 'ar']);
  larder = await openTestApp({
    repos: [{ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' }],
    limits: { maxArchiveSize: 4 * MiB },
    unpackedLimits: { bazelSource: 2 * MiB },
    outbound: { allowPrivate: ['127.0.0.1'] },
  });
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

const moduleText = (name: string) => `module(\n    name = "${name}",\n    version = "1.0.0",\n)\n`;
const PATCH = `--- a/lib.cc\n+++ b/lib.cc\n@@ -1 +1 @@\n-int answer() { return 41; }\n+int answer() { return 42; }\n`;

/** The files of a module's source tree (a random binary too, so that no byte may change unnoticed). */
function sourceFiles(name: string): Record<string, Buffer> {
  return {
    'MODULE.bazel': Buffer.from(moduleText(name)),
    'lib.cc': Buffer.from('int answer() { return 41; }\n'),
    'data.bin': randomBytes(300_000),
    'tool.sh': Buffer.from('#!/bin/sh\necho hi\n'),
  };
}

/** Writes the files under `{dir}/{prefix}/` (tool.sh executable) and returns the directory. */
function writeTree(files: Record<string, Buffer>, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(work.path, 'src-'));
  fs.mkdirSync(path.join(dir, prefix), { recursive: true });
  for (const [name, data] of Object.entries(files))
    fs.writeFileSync(path.join(dir, prefix, name), data, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
  return dir;
}

const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });

/** The archive of `prefix/` in `dir` as the system tool for `type` makes it (ar and deb hold the files flat). */
function makeArchive(type: string, dir: string, prefix: string, files: Record<string, Buffer>): Buffer {
  const out = path.join(dir, `out.${type}`);
  const tarFlag: Record<string, string> = {
    'tar.gz': '-z',
    tgz: '-z',
    'tar.xz': '-J',
    txz: '-J',
    'tar.bz2': '-j',
    tbz: '-j',
    'tar.zst': '--zstd',
    tzst: '--zstd',
  };
  if (type === 'tar') run('tar', ['-cf', out, prefix], dir);
  else if (tarFlag[type]) run('tar', [tarFlag[type], '-cf', out, prefix], dir);
  else if (['zip', 'jar', 'war', 'aar', 'nupkg', 'whl'].includes(type)) run('zip', ['-q', '-r', '-X', out, prefix], dir);
  // U: real modes (Debian's ar is deterministic by default and writes 644 for every member).
  else if (type === 'ar') run('ar', ['rcU', out, ...Object.keys(files)], path.join(dir, prefix));
  else if (type === 'deb') {
    const at = path.join(dir, prefix);
    fs.writeFileSync(path.join(dir, 'debian-binary'), '2.0\n');
    run('tar', ['-czf', path.join(dir, 'control.tar.gz'), '-C', at, 'MODULE.bazel'], dir);
    run('tar', ['-cJf', path.join(dir, 'data.tar.xz'), '-C', at, '.'], dir);
    run('ar', ['rc', out, 'debian-binary', 'control.tar.gz', 'data.tar.xz'], dir);
  } else throw new Error(`no tool for ${type}`);
  return fs.readFileSync(out);
}

async function publish(module: string, parts: Part[]) {
  const { payload, contentType } = await publishBody(parts);
  return larder.app.inject({
    method: 'PUT',
    url: `/bazel/api/modules/${module}/1.0.0`,
    payload,
    headers: { 'content-type': contentType, authorization: `Bearer ${larder.adminToken}` },
  });
}

const get = (url: string) => larder.app.inject({ method: 'GET', url });

async function storage() {
  const docs = await larder.registry.db.selectFrom('index_docs').select(['path', 'etag']).orderBy('path').execute();
  return { docs, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
}

async function refused(
  res: Awaited<ReturnType<typeof publish>>,
  status: number,
  message: RegExp,
  before: Awaited<ReturnType<typeof storage>>,
) {
  expect(res.statusCode, res.body).toBe(status);
  expect(JSON.parse(res.body).error.message).toMatch(message);
  expect(await storage()).toEqual(before);
}

const TAR_TYPES = ['tar', 'tar.gz', 'tgz', 'tar.xz', 'txz', 'tar.zst', 'tzst', 'tar.bz2', 'tbz'];
const ZIP_TYPES = ['zip', 'jar', 'war', 'aar', 'nupkg', 'whl'];

describe('a module publishes in every archive type Bazel reads', () => {
  it.each([...TAR_TYPES, ...ZIP_TYPES, 'ar'])('%s: accepted, served byte for byte, unpacks to exactly the files packed', async (type) => {
    const name = `m_${type.replace(/\./g, '_')}`;
    const prefix = `${name}-1.0.0`;
    const files = sourceFiles(name);
    const dir = writeTree(files, prefix);
    const archive = makeArchive(type, dir, prefix, files);
    const flat = type === 'ar';
    const res = await publish(name, [
      ['MODULE.bazel', files['MODULE.bazel']!],
      ['archive', archive, `${prefix}.${type}`],
      ...(flat ? [] : ([['strip_prefix', prefix]] as Part[])),
      ['patches/fix.patch', PATCH],
    ]);
    expect(res.statusCode, res.body).toBe(201);
    const source = JSON.parse((await get(`/bazel/modules/${name}/1.0.0/source.json`)).body);
    expect(source.integrity).toBe(sri(archive));
    const served = await get(`/bazel/archives/${name}/1.0.0/${prefix}.${type}`);
    expect(served.statusCode).toBe(200);
    expect(served.headers['content-encoding']).toBeUndefined();
    expect(served.rawPayload.equals(archive)).toBe(true);
    // What Bazel would extract from the served bytes: every file, byte for byte, the executable bit kept.
    const tree = await unpackArchive(served.rawPayload, {
      fileName: source.url,
      stripPrefix: source.strip_prefix,
      limits: { maxUnpackedSize: 8 * MiB, maxEntries: 100 },
    });
    expect([...tree.keys()].sort()).toEqual(Object.keys(files).sort());
    for (const [file, data] of Object.entries(files)) expect(tree.get(file)!.data.equals(data), file).toBe(true);
    expect(tree.get('tool.sh')!.executable).toBe(true);
    expect((await get(`/bazel/modules/${name}/1.0.0/MODULE.bazel`)).rawPayload.equals(files['MODULE.bazel']!)).toBe(true);
  });

  it('deb: its ar members are the tree, as Bazel extracts them (debian-binary, control.tar.gz, data.tar.xz)', async () => {
    const files = sourceFiles('m_deb');
    const dir = writeTree(files, 'm_deb-1.0.0');
    const archive = makeArchive('deb', dir, 'm_deb-1.0.0', files);
    const patch = `--- a/debian-binary\n+++ b/debian-binary\n@@ -1 +1,2 @@\n 2.0\n+# read as a file\n`;
    const res = await publish('m_deb', [
      ['MODULE.bazel', files['MODULE.bazel']!],
      ['archive', archive, 'm_deb_1.0.0_all.deb'],
      ['patches/fix.patch', patch],
    ]);
    expect(res.statusCode, res.body).toBe(201);
    const served = await get('/bazel/archives/m_deb/1.0.0/m_deb_1.0.0_all.deb');
    expect(served.rawPayload.equals(archive)).toBe(true);
    const tree = await unpackArchive(served.rawPayload, { fileName: 'x.deb', limits: { maxUnpackedSize: 8 * MiB, maxEntries: 10 } });
    expect([...tree.keys()]).toEqual(['debian-binary', 'control.tar.gz', 'data.tar.xz']);
    expect(tree.get('data.tar.xz')!.data.equals(fs.readFileSync(path.join(dir, 'data.tar.xz')))).toBe(true);
  });

  it('takes the type from archive_type when the name says nothing, and refuses types it cannot read', async () => {
    const files = sourceFiles('m_typed');
    const dir = writeTree(files, 'm_typed-1.0.0');
    const archive = makeArchive('tar.zst', dir, 'm_typed-1.0.0', files);
    const ok = await publish('m_typed', [
      ['MODULE.bazel', files['MODULE.bazel']!],
      ['archive', archive, 'download'],
      ['archive_type', 'tzst'],
      ['strip_prefix', 'm_typed-1.0.0'],
    ]);
    expect(ok.statusCode, ok.body).toBe(201);
    expect(JSON.parse((await get('/bazel/modules/m_typed/1.0.0/source.json')).body).archive_type).toBe('tzst');
    const before = await storage();
    const parts = (fileName: string, type?: string): Part[] => [
      ['MODULE.bazel', moduleText('m_untyped')],
      ['archive', archive, fileName],
      ...(type ? ([['archive_type', type]] as Part[]) : []),
    ];
    await refused(await publish('m_untyped', parts('download')), 400, /cannot tell the archive type of "download"/, before);
    await refused(await publish('m_untyped', parts('src.TAR.ZST')), 400, /case matters/, before);
    await refused(await publish('m_untyped', parts('src', 'rar')), 400, /archive_type "rar" is not an archive type Bazel knows/, before);
    await refused(await publish('m_untyped', parts('src.7z')), 400, /Bazel reads but this registry cannot check/, before);
    // Labelled xz, compressed with zstd: the magic bytes say so.
    await refused(
      await publish('m_untyped', parts('src.tar.xz')),
      400,
      /not xz-compressed \(it must start with bytes fd 37 7a 58 5a 00\)/,
      before,
    );
  });
});

describe('bombs and traversal in every type are refused, and nothing changes', () => {
  const compressors: Record<string, (tar: Buffer) => Buffer> = {
    'tar.gz': (t) => execFileSync('gzip', ['-9', '-c'], { input: t }),
    'tar.xz': (t) => execFileSync('xz', ['-c'], { input: t, maxBuffer: 64 * MiB }),
    'tar.zst': (t) => execFileSync('zstd', ['-q', '-c'], { input: t, maxBuffer: 64 * MiB }),
    'tar.bz2': (t) => execFileSync('bzip2', ['-c'], { input: t, maxBuffer: 64 * MiB }),
    tar: (t) => t,
  };

  it.each(Object.keys(compressors))('%s: a bomb past the unpacked limit, and a ".." entry', async (type) => {
    const before = await storage();
    // 3 MiB of zeros: past the 2 MiB unpacked limit, and under the 4 MiB archive limit even uncompressed.
    const bomb = compressors[type]!(await tarball([{ name: 'b-1.0/zeros', body: Buffer.alloc(3 * MiB) }]));
    const common: Part[] = [
      ['MODULE.bazel', moduleText('bomb')],
      ['strip_prefix', 'b-1.0'],
    ];
    await refused(await publish('bomb', [...common, ['archive', bomb, `b.${type}`]]), 413, /unpacks to more than 2 MiB/, before);
    const evil = compressors[type]!(await tarball([{ name: 'b-1.0/../../evil', body: 'x' }]));
    await refused(await publish('bomb', [...common, ['archive', evil, `b.${type}`]]), 400, /contains a "\.\." component/, before);
  });

  it('zip: a bomb and a ".." entry', async () => {
    const before = await storage();
    const dir = fs.mkdtempSync(path.join(work.path, 'zipbomb-'));
    fs.mkdirSync(path.join(dir, 'b-1.0'));
    fs.writeFileSync(path.join(dir, 'b-1.0', 'zeros'), Buffer.alloc(3 * MiB));
    run('zip', ['-q', '-9', '-r', 'b.zip', 'b-1.0'], dir);
    const common: Part[] = [
      ['MODULE.bazel', moduleText('bomb')],
      ['strip_prefix', 'b-1.0'],
    ];
    await refused(
      await publish('bomb', [...common, ['archive', fs.readFileSync(path.join(dir, 'b.zip')), 'b.zip']]),
      413,
      /unpacks to more than 2 MiB/,
      before,
    );
    const evil = makeZip([{ name: 'b-1.0/../../evil', data: Buffer.from('x') }]);
    await refused(
      await publish('bomb', [...common, ['archive', evil, 'b.jar']]),
      400,
      /invalid relative path: b-1\.0\/\.\.\/\.\.\/evil/,
      before,
    );
  });

  it('ar and deb: an oversized member, a ".." name, a lying header', async () => {
    const before = await storage();
    const common: Part[] = [['MODULE.bazel', moduleText('bomb')]];
    const large = makeAr([{ name: 'zeros', data: Buffer.alloc(3 * MiB) }]);
    await refused(await publish('bomb', [...common, ['archive', large, 'b.ar']]), 413, /unpacks to more than 2 MiB/, before);
    const evil = makeAr([{ name: '../../evil', data: 'x' }], 'bsd');
    await refused(await publish('bomb', [...common, ['archive', evil, 'b.deb']]), 400, /"\.\." component/, before);
    const lying = makeAr([{ name: 'a', data: 'x', declaredSize: '1000' }]);
    await refused(
      await publish('bomb', [...common, ['archive', lying, 'b.ar']]),
      400,
      /source ar archive is invalid \(the member at offset 8 claims 1000 bytes/,
      before,
    );
  });
});

describe('a source.json naming an archive of another type elsewhere', () => {
  let server: http.Server;
  let base: string;
  const bodies = new Map<string, Buffer>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const body = bodies.get(req.url ?? '');
      if (body) res.end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads a .tar.xz (type from the URL, query ignored) and a .tar.bz2 named by archive_type, and checks their trees', async () => {
    for (const [name, type, url, archiveType] of [
      ['r_xz', 'tar.xz', '/dl/r_xz-1.0.0.tar.xz?raw=1', undefined],
      ['r_bz2', 'tar.bz2', '/download/r_bz2', 'tar.bz2'],
    ] as const) {
      const files = sourceFiles(name);
      const dir = writeTree(files, `${name}-1.0.0`);
      const archive = makeArchive(type, dir, `${name}-1.0.0`, files);
      bodies.set(url, archive);
      const json = {
        url: `${base}${url}`,
        integrity: sri(archive),
        strip_prefix: `${name}-1.0.0`,
        ...(archiveType ? { archive_type: archiveType } : {}),
      };
      const sourceJson = `${JSON.stringify(json, null, 4)}\n`;
      const res = await publish(name, [
        ['MODULE.bazel', files['MODULE.bazel']!],
        ['source.json', sourceJson],
      ]);
      expect(res.statusCode, res.body).toBe(201);
      expect((await get(`/bazel/modules/${name}/1.0.0/source.json`)).body).toBe(sourceJson);
    }
    // A tree whose MODULE.bazel differs is refused whatever the compression.
    const files = { ...sourceFiles('r_bad'), 'MODULE.bazel': Buffer.from(moduleText('other')) };
    const dir = writeTree(files, 'r_bad-1.0.0');
    const archive = makeArchive('tar.zst', dir, 'r_bad-1.0.0', files);
    bodies.set('/r_bad.tar.zst', archive);
    const before = await storage();
    const sourceJson = `${JSON.stringify({ url: `${base}/r_bad.tar.zst`, integrity: sri(archive), strip_prefix: 'r_bad-1.0.0' })}\n`;
    await refused(
      await publish('r_bad', [
        ['MODULE.bazel', moduleText('r_bad')],
        ['source.json', sourceJson],
      ]),
      400,
      /MODULE\.bazel in the source tree/,
      before,
    );
  });
});
