/**
 * Publishing to a hosted Bazel registry through Larder's API (README, "Bazel"): round trips
 * with generated archives, yank and metadata edits, and every refusal leaving storage as it was.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sri } from '../src/core/sri.js';
import { publishBody, type Part } from './support/bazel.js';
import { tarGz } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { snapshotFiles, tempDir } from './support/tmp.js';

let larder: TestApp;
let readToken: string;
const work = tempDir('larder-bazel-publish-');

beforeAll(async () => {
  larder = await openTestApp({
    repos: [{ name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' }],
    limits: { maxArchiveSize: 256 * 1024 },
    // The source.json archives below are served from 127.0.0.1, which only an operator's allowance reaches.
    outbound: { allowPrivate: ['127.0.0.1'] },
  });
  await larder.registry.auth.createUser('reader');
  readToken = (await larder.registry.auth.createToken({ login: 'reader', scopes: ['read'] })).token;
});
afterAll(async () => {
  await larder?.stop();
  work.remove();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function moduleFile(name: string, version: string, extra = ''): string {
  return `module(\n    name = "${name}",\n    version = "${version}",\n    compatibility_level = 1,\n${extra})\n\nbazel_dep(name = "platforms", version = "0.0.10")\n`;
}

/** A source archive whose tree lives under `prefix/` and carries its own MODULE.bazel. */
async function sourceArchive(prefix: string, moduleText: string, files: Record<string, string> = {}): Promise<Buffer> {
  return tarGz([
    { name: `${prefix}/MODULE.bazel`, body: moduleText },
    { name: `${prefix}/lib.cc`, body: 'int answer() { return 41; }\n' },
    ...Object.entries(files).map(([name, body]) => ({ name: `${prefix}/${name}`, body })),
  ]);
}

async function publish(module: string, version: string, parts: Part[], token: string | null = larder.adminToken) {
  const { payload, contentType } = await publishBody(parts);
  return larder.app.inject({
    method: 'PUT',
    url: `/bazel/api/modules/${module}/${version}`,
    payload,
    headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

const get = (url: string) => larder.app.inject({ method: 'GET', url });

/** Database rows and blob files: a refused publish changes neither. */
async function storage() {
  const docs = await larder.registry.db.selectFrom('index_docs').select(['path', 'etag']).orderBy('path').execute();
  const versions = await larder.registry.db
    .withTables<{ bazel_versions: { module: string; version: string } }>()
    .selectFrom('bazel_versions')
    .select(['module', 'version'])
    .execute();
  return { docs, versions, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
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

const PATCH = `--- a/lib.cc\n+++ b/lib.cc\n@@ -1 +1 @@\n-int answer() { return 41; }\n+int answer() { return 42; }\n`;

describe('publishing a module with an archive Larder hosts', () => {
  it('stores MODULE.bazel byte for byte, writes source.json with the archive URL and SRIs, hosts the archive', async () => {
    const text = moduleFile('greeter', '1.0.0', '    bazel_compatibility = [">=7.2.1"],\n');
    const archive = await sourceArchive('greeter-1.0.0', text);
    const overlay = 'cc_library(name = "lib", srcs = ["lib.cc"])\n';
    const res = await publish('greeter', '1.0.0', [
      ['MODULE.bazel', text],
      ['archive', archive, 'greeter-1.0.0.tar.gz'],
      ['strip_prefix', 'greeter-1.0.0'],
      ['overlay/BUILD.bazel', overlay],
      ['patches/fix.patch', PATCH],
      [
        'metadata',
        JSON.stringify({
          homepage: 'https://example.com/greeter',
          maintainers: [{ email: 'a@example.com' }],
          repository: ['https://example.com/src/'],
        }),
      ],
    ]);
    expect(res.statusCode, res.body).toBe(201);
    const served = await get('/bazel/modules/greeter/1.0.0/MODULE.bazel');
    expect(served.body).toBe(text);
    const source = JSON.parse((await get('/bazel/modules/greeter/1.0.0/source.json')).body);
    expect(source).toEqual({
      url: 'https://larder.test/bazel/archives/greeter/1.0.0/greeter-1.0.0.tar.gz',
      integrity: sri(archive),
      strip_prefix: 'greeter-1.0.0',
      overlay: { 'BUILD.bazel': sri(Buffer.from(overlay)) },
      patches: { 'fix.patch': sri(Buffer.from(PATCH)) },
      patch_strip: 1,
    });
    const hosted = await get('/bazel/archives/greeter/1.0.0/greeter-1.0.0.tar.gz');
    expect(hosted.statusCode).toBe(200);
    expect(sha256(hosted.rawPayload)).toBe(sha256(archive));
    expect(hosted.headers['content-encoding']).toBeUndefined();
    const resumed = await larder.app.inject({
      method: 'GET',
      url: '/bazel/archives/greeter/1.0.0/greeter-1.0.0.tar.gz',
      headers: { range: 'bytes=100-' },
    });
    expect(resumed.statusCode).toBe(206);
    expect(resumed.rawPayload.equals(archive.subarray(100))).toBe(true);
    expect((await get('/bazel/modules/greeter/1.0.0/overlay/BUILD.bazel')).body).toBe(overlay);
    expect((await get('/bazel/modules/greeter/1.0.0/patches/fix.patch')).body).toBe(PATCH);
    const metadata = await get('/bazel/modules/greeter/metadata.json');
    expect(metadata.body).toBe(
      '{\n    "homepage": "https://example.com/greeter",\n    "maintainers": [\n        {\n            "email": "a@example.com"\n        }\n    ],\n    "repository": [\n        "https://example.com/src/"\n    ],\n    "versions": [\n        "1.0.0"\n    ],\n    "yanked_versions": {}\n}\n',
    );
  });

  it('keeps versions in Bazel order, yanks with a reason, refuses to yank the latest unless deprecated', async () => {
    for (const v of ['1.10.0', '1.2.0', '1.0.1-rc1']) {
      const text = moduleFile('greeter', v);
      expect(
        (
          await publish('greeter', v, [
            ['MODULE.bazel', text],
            ['archive', await sourceArchive('src', text), 'src.tar.gz'],
            ['strip_prefix', 'src'],
          ])
        ).statusCode,
      ).toBe(201);
    }
    const meta = () => get('/bazel/modules/greeter/metadata.json').then((r) => JSON.parse(r.body));
    expect((await meta()).versions).toEqual(['1.0.0', '1.0.1-rc1', '1.2.0', '1.10.0']);
    const yank = (v: string, body: unknown, method: 'POST' | 'DELETE' = 'POST') =>
      larder.app.inject({
        method,
        url: `/bazel/api/modules/greeter/${v}/yank`,
        payload: body as object,
        headers: { authorization: `Bearer ${larder.adminToken}` },
      });
    expect((await yank('1.2.0', { reason: 'CVE-2026-1, use 1.10.0' })).statusCode).toBe(200);
    expect((await meta()).yanked_versions).toEqual({ '1.2.0': 'CVE-2026-1, use 1.10.0' });
    const latest = await yank('1.10.0', { reason: 'broken' });
    expect(latest.statusCode).toBe(400);
    expect(JSON.parse(latest.body).error.message).toMatch(/latest version/);
    const noReason = await yank('1.0.0', {});
    expect(noReason.statusCode).toBe(400);
    const deprecate = await larder.app.inject({
      method: 'PATCH',
      url: '/bazel/api/modules/greeter',
      payload: { deprecated: 'use hello instead' },
      headers: { authorization: `Bearer ${larder.adminToken}` },
    });
    expect(deprecate.statusCode).toBe(200);
    expect((await yank('1.10.0', { reason: 'module deprecated' })).statusCode).toBe(200);
    expect((await yank('1.2.0', undefined, 'DELETE')).statusCode).toBe(200);
    const m = await meta();
    expect(m.yanked_versions).toEqual({ '1.10.0': 'module deprecated' });
    expect(m.deprecated).toBe('use hello instead');
    const byReader = await larder.app.inject({
      method: 'POST',
      url: '/bazel/api/modules/greeter/1.0.0/yank',
      payload: { reason: 'x' },
      headers: { authorization: `Bearer ${readToken}` },
    });
    expect(byReader.statusCode).toBe(403);
  });

  it('serves upper-case prerelease versions, and records publishes, yanks and edits in the audit log', async () => {
    const text = moduleFile('shouty', '1.1.1-RC1');
    const res = await publish('shouty', '1.1.1-RC1', [
      ['MODULE.bazel', text],
      ['archive', await sourceArchive('src', text), 'src.tar.gz'],
      ['strip_prefix', 'src'],
    ]);
    expect(res.statusCode, res.body).toBe(201);
    expect((await get('/bazel/modules/shouty/1.1.1-RC1/MODULE.bazel')).body).toBe(text);
    const actions = await larder.registry.db.selectFrom('audit_log').select(['action', 'subject']).orderBy('id').execute();
    expect(actions).toEqual(
      expect.arrayContaining([
        { action: 'bazel.publish', subject: 'greeter@1.0.0' },
        { action: 'bazel.yank', subject: 'greeter' },
        { action: 'bazel.unyank', subject: 'greeter' },
        { action: 'bazel.metadata', subject: 'greeter' },
        { action: 'bazel.publish', subject: 'shouty@1.1.1-RC1' },
      ]),
    );
  });

  it('keeps compatibility_level as the previous version has it unless the break is confirmed', async () => {
    const leveled = (version: string, level: number) => `module(name = "levels", version = "${version}", compatibility_level = ${level})\n`;
    const parts = async (version: string, level: number, extra: Part[] = []): Promise<Part[]> => [
      ['MODULE.bazel', leveled(version, level)],
      ['archive', await sourceArchive('src', leveled(version, level)), 'src.tar.gz'],
      ['strip_prefix', 'src'],
      ...extra,
    ];
    expect((await publish('levels', '1.0.0', await parts('1.0.0', 1))).statusCode).toBe(201);
    const before = await storage();
    await refused(
      await publish('levels', '2.0.0', await parts('2.0.0', 2)),
      400,
      /levels@1\.0\.0 has 1.*allow_compatibility_level_change=true/,
      before,
    );
    expect((await publish('levels', '2.0.0', await parts('2.0.0', 2, [['allow_compatibility_level_change', 'true']]))).statusCode).toBe(
      201,
    );
    const middle = await storage();
    await refused(await publish('levels', '1.5.0', await parts('1.5.0', 2)), 400, /levels@1\.0\.0 has 1/, middle);
    expect((await publish('levels', '1.5.0', await parts('1.5.0', 1))).statusCode).toBe(201);
  });

  it('unpacks zip archives too', async () => {
    const text = moduleFile('zipped', '2.0.0');
    const dir = path.join(work.path, 'zip-src');
    fs.mkdirSync(path.join(dir, 'zipped-2.0.0'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'zipped-2.0.0', 'MODULE.bazel'), text);
    fs.writeFileSync(path.join(dir, 'zipped-2.0.0', 'lib.cc'), 'int answer() { return 41; }\n');
    const zipPath = path.join(work.path, 'zipped.zip');
    await promisify(execFile)('python3', [
      '-c',
      `import zipfile,os\nz=zipfile.ZipFile(${JSON.stringify(zipPath)},'w')\nfor r,_,fs in os.walk(${JSON.stringify(dir)}):\n  for f in fs:\n    p=os.path.join(r,f); z.write(p, os.path.relpath(p, ${JSON.stringify(dir)}))\nz.close()`,
    ]);
    const res = await publish('zipped', '2.0.0', [
      ['MODULE.bazel', text],
      ['archive', fs.readFileSync(zipPath), 'zipped-2.0.0.zip'],
      ['strip_prefix', 'zipped-2.0.0'],
      ['patches/fix.patch', PATCH],
    ]);
    expect(res.statusCode, res.body).toBe(201);
  });
});

describe('publishing with a source.json that names an archive elsewhere', () => {
  let server: http.Server;
  let base: string;
  let archive: Buffer;
  const text = moduleFile('remote', '1.0.0');

  beforeAll(async () => {
    archive = await sourceArchive('remote-1.0.0', text);
    server = http.createServer((req, res) => {
      if (req.url === '/remote-1.0.0.tar.gz') res.end(archive);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads the archive to check its integrity, and stores source.json byte for byte', async () => {
    const sourceJson = `{\n    "url": "${base}/remote-1.0.0.tar.gz",\n    "integrity": "${sri(archive, 'sha384')}",\n    "strip_prefix": "remote-1.0.0"\n}\n`;
    const res = await publish('remote', '1.0.0', [
      ['MODULE.bazel', text],
      ['source.json', sourceJson],
    ]);
    expect(res.statusCode, res.body).toBe(201);
    expect((await get('/bazel/modules/remote/1.0.0/source.json')).body).toBe(sourceJson);
  });

  it('refuses a wrong integrity, an unreachable archive, unlisted patches and non-archive sources', async () => {
    const before = await storage();
    const wrong = `{"url": "${base}/remote-1.0.0.tar.gz", "integrity": "${sri(Buffer.from('other'))}", "strip_prefix": "remote-1.0.0"}`;
    await refused(
      await publish('remote', '1.1.0', [
        ['MODULE.bazel', moduleFile('remote', '1.1.0')],
        ['source.json', wrong],
      ]),
      400,
      /does not match the integrity in source\.json/,
      before,
    );
    const missing = `{"url": "${base}/nope.tar.gz", "integrity": "${sri(archive)}"}`;
    await refused(
      await publish('remote', '1.1.0', [
        ['MODULE.bazel', moduleFile('remote', '1.1.0')],
        ['source.json', missing],
      ]),
      400,
      /could not download source\.json url .*did not answer with the file/,
      before,
    );
    const ok = `{"url": "${base}/remote-1.0.0.tar.gz", "integrity": "${sri(archive)}", "strip_prefix": "remote-1.0.0"}`;
    await refused(
      await publish('remote', '1.1.0', [
        ['MODULE.bazel', moduleFile('remote', '1.1.0')],
        ['source.json', ok],
        ['patches/extra.patch', PATCH],
      ]),
      400,
      /source\.json does not list it/,
      before,
    );
    const git = `{"type": "git_repository", "remote": "https://example.com/r.git", "commit": "abc"}`;
    await refused(
      await publish('remote', '1.1.0', [
        ['MODULE.bazel', moduleFile('remote', '1.1.0')],
        ['source.json', git],
      ]),
      403,
      /repos\.bazel\.bazel_policy\.source_types does not allow git_repository/,
      before,
    );
  });
});

describe('publish refusals leave everything as it was', () => {
  const v = '3.0.0';
  const text = moduleFile('badmod', v);

  it('refuses bad names, versions, mismatched MODULE.bazel, duplicates and credentials', async () => {
    const archive = await sourceArchive('src', text);
    const parts = (t: string = text): Part[] => [
      ['MODULE.bazel', t],
      ['archive', archive, 'src.tar.gz'],
      ['strip_prefix', 'src'],
    ];
    const before = await storage();
    await refused(await publish('Bad_Name', v, parts()), 400, /module name/i, before);
    await refused(await publish('bad%2e%2e', v, parts()), 400, /module name/i, before);
    await refused(await publish('badmod', '3.0.0+build', parts()), 400, /\+/, before);
    await refused(await publish('badmod', '3..0', parts()), 400, /version/i, before);
    await refused(await publish('badmod', v, parts(moduleFile('othermod', v))), 400, /declares module\(name = "othermod"/, before);
    await refused(await publish('badmod', v, parts(moduleFile('badmod', '3.0.1'))), 400, /version = "3\.0\.1"/, before);
    await refused(await publish('badmod', v, parts(), null), 401, /token/, before);
    await refused(await publish('badmod', v, parts(), readToken), 403, /publish/, before);
    await refused(
      await publish('greeter', '1.0.0', [
        ['MODULE.bazel', moduleFile('greeter', '1.0.0')],
        ['archive', await sourceArchive('src', moduleFile('greeter', '1.0.0')), 'src.tar.gz'],
        ['strip_prefix', 'src'],
      ]),
      409,
      /already published/,
      before,
    );
  });

  it('refuses archives whose tree disagrees, patches that do not apply, overlays without Bazel 7.2.1, oversized archives', async () => {
    const before = await storage();
    const differing = await sourceArchive('src', moduleFile('badmod', v, '    # a different file\n'));
    await refused(
      await publish('badmod', v, [
        ['MODULE.bazel', text],
        ['archive', differing, 'src.tar.gz'],
        ['strip_prefix', 'src'],
      ]),
      400,
      /MODULE\.bazel in the source tree/,
      before,
    );
    const archive = await sourceArchive('src', text);
    const badPatch = PATCH.replace('return 41', 'return 40');
    await refused(
      await publish('badmod', v, [
        ['MODULE.bazel', text],
        ['archive', archive, 'src.tar.gz'],
        ['strip_prefix', 'src'],
        ['patches/bad.patch', badPatch],
      ]),
      400,
      /bad\.patch/,
      before,
    );
    await refused(
      await publish('badmod', v, [
        ['MODULE.bazel', text],
        ['archive', archive, 'src.tar.gz'],
        ['strip_prefix', 'src'],
        ['overlay/BUILD.bazel', 'x\n'],
      ]),
      400,
      /bazel_compatibility/,
      before,
    );
    await refused(
      await publish('badmod', v, [
        ['MODULE.bazel', text],
        ['archive', archive, 'src.tar.gz'],
        ['strip_prefix', 'wrong'],
      ]),
      400,
      /wrong/,
      before,
    );
    const big = await tarGz([
      { name: 'src/MODULE.bazel', body: text },
      { name: 'src/noise.bin', body: Buffer.from(Array.from({ length: 300 * 1024 }, () => Math.floor(Math.random() * 256))) },
    ]);
    await refused(
      await publish('badmod', v, [
        ['MODULE.bazel', text],
        ['archive', big, 'src.tar.gz'],
        ['strip_prefix', 'src'],
      ]),
      413,
      /larger than/,
      before,
    );
    const escaping = await tarGz([
      { name: 'src/MODULE.bazel', body: text },
      { name: 'src/../../evil', body: 'x' },
    ]);
    await refused(
      await publish('badmod', v, [
        ['MODULE.bazel', text],
        ['archive', escaping, 'src.tar.gz'],
        ['strip_prefix', 'src'],
      ]),
      400,
      /\.\./,
      before,
    );
  });
});
