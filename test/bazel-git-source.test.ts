/**
 * git_repository sources and the publish policy of hosted Bazel repositories (issue 16): a commit served over smart
 * HTTP by the real `git http-backend` is fetched with the real git and checked (MODULE.bazel, patches); tags, file://
 * remotes and remotes that never answer are refused; the BCR's default policy refuses what a permissive one accepts,
 * naming the setting. Every refusal leaves storage as it was.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BCR_POLICY, type BazelPolicy } from '../src/core/config.js';
import { sri } from '../src/core/sri.js';
import { importBazelTree } from '../src/formats/bazel/import.js';
import { tarGz } from './support/archives.js';
import { moduleFile, publishBody, type Part, type PublishBodyOptions } from './support/bazel.js';
import { commitRepo, startGitServer, type GitServer } from './support/git-server.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { snapshotFiles, tempDir } from './support/tmp.js';

const run = promisify(execFile);
const work = tempDir('larder-bazel-git-');
let larder: TestApp;
let gitServer: GitServer;
let silent: http.Server;
let silentUrl: string;
let files: http.Server;
let filesUrl: string;
let gitServerV0: GitServer;
/** Commits of the served repository `greeter`: `good` declares greeter@1.0.0 (tag v1.0.0), `middle` 1.5.0, `later` (main) 2.0.0. */
const commits = { good: '', middle: '', later: '' };

const PERMISSIVE: BazelPolicy = { ...BCR_POLICY, sourceTypes: ['archive', 'git_repository'], sourceUrls: 'any' };
const LIB = 'int answer() { return 41; }\n';
const PATCH = `--- a/lib.cc\n+++ b/lib.cc\n@@ -1 +1 @@\n-int answer() { return 41; }\n+int answer() { return 42; }\n`;

async function git(...args: string[]): Promise<string> {
  const dir = path.join(work.path, 'repos', 'greeter');
  const { stdout } = await run('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args]);
  return stdout.trim();
}

beforeAll(async () => {
  const dir = path.join(work.path, 'repos', 'greeter');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'MODULE.bazel'), moduleFile('greeter', '1.0.0'));
  fs.writeFileSync(path.join(dir, 'lib.cc'), LIB);
  fs.writeFileSync(path.join(dir, 'sub', 'MODULE.bazel'), moduleFile('greeter_sub', '1.0.0'));
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-qm', 'one');
  commits.good = await git('rev-parse', 'HEAD');
  await git('tag', 'v1.0.0');
  fs.writeFileSync(path.join(dir, 'MODULE.bazel'), moduleFile('greeter', '1.5.0'));
  await git('commit', '-qam', 'middle');
  commits.middle = await git('rev-parse', 'HEAD');
  fs.writeFileSync(path.join(dir, 'MODULE.bazel'), moduleFile('greeter', '2.0.0'));
  await git('commit', '-qam', 'two');
  commits.later = await git('rev-parse', 'HEAD');
  // Repositories too large to fetch (incompressible) and to check out (compressible).
  for (const [name, body] of [
    ['big', crypto.randomBytes(200 * 1024)],
    ['wide', Buffer.alloc(1024 * 1024)],
  ] as const) {
    const big = path.join(work.path, 'repos', name);
    fs.mkdirSync(big);
    fs.writeFileSync(path.join(big, 'MODULE.bazel'), moduleFile('greeter', '2.0.0'));
    fs.writeFileSync(path.join(big, 'data.bin'), body);
    await commitRepo(big);
  }
  gitServer = await startGitServer(path.join(work.path, 'repos'));
  gitServerV0 = await startGitServer(path.join(work.path, 'repos'), { protocolV0: true });

  // Accepts connections and never answers: a remote that hangs.
  silent = http.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;

  const archive = await tarGz([
    { name: 'greeter-3.0.0/MODULE.bazel', body: moduleFile('greeter', '3.0.0') },
    { name: 'greeter-3.0.0/lib.cc', body: LIB },
  ]);
  files = http.createServer((req, res) => (req.url === '/greeter-3.0.0.tar.gz' ? res.end(archive) : res.writeHead(404).end()));
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;

  larder = await openTestApp({
    repos: [
      { name: 'bcr', format: 'bazel', kind: 'hosted', visibility: 'public' },
      { name: 'corp', format: 'bazel', kind: 'hosted', visibility: 'public', bazelPolicy: PERMISSIVE },
      {
        name: 'strict',
        format: 'bazel',
        kind: 'hosted',
        visibility: 'public',
        bazelPolicy: { ...PERMISSIVE, sourceHosts: ['git.corp.example'], requirePresubmit: true, compatibilityLevel: 'non_decreasing' },
      },
      { name: 'imported', format: 'bazel', kind: 'hosted', visibility: 'public' },
    ],
    // The git server and the archive host are on 127.0.0.1, over plain http.
    outbound: { allowPrivate: ['127.0.0.1'], gitAllowHttp: true },
  });
});
afterAll(async () => {
  await larder?.stop();
  await gitServer?.close();
  await gitServerV0?.close();
  silent?.closeAllConnections();
  await new Promise((r) => silent?.close(r));
  await new Promise((r) => files?.close(r));
  work.remove();
});

async function publish(repo: string, module: string, version: string, parts: Part[], options?: PublishBodyOptions) {
  const { payload, contentType } = await publishBody(parts, options);
  return larder.app.inject({
    method: 'PUT',
    url: `/${repo}/api/modules/${module}/${version}`,
    payload,
    headers: { 'content-type': contentType, authorization: `Bearer ${larder.adminToken}` },
  });
}

/** Database rows and blob files: a refused publish changes neither. */
async function storage() {
  const docs = await larder.registry.db.selectFrom('index_docs').select(['repo_id', 'path', 'etag']).orderBy('path').execute();
  const versions = await larder.registry.db
    .withTables<{ bazel_versions: { module: string; version: string } }>()
    .selectFrom('bazel_versions')
    .select(['module', 'version'])
    .execute();
  return { docs, versions, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
}

async function expectRefused(res: Awaited<ReturnType<typeof publish>>, status: number, message: RegExp, before: unknown) {
  expect(res.statusCode, res.body).toBe(status);
  expect(JSON.parse(res.body).error.message).toMatch(message);
  expect(await storage()).toEqual(before);
}

const gitSource = (fields: Record<string, unknown>) =>
  `${JSON.stringify({ type: 'git_repository', remote: `${gitServer.url}/greeter`, ...fields }, null, 4)}\n`;

describe('git_repository sources', () => {
  it('accepts a commit whose MODULE.bazel is the published one, patches checked, and stores source.json byte for byte', async () => {
    const sourceJson = gitSource({ commit: commits.good, patches: { 'fix.patch': sri(Buffer.from(PATCH)) }, patch_strip: 1 });
    const parts: Part[] = [
      ['MODULE.bazel', moduleFile('greeter', '1.0.0')],
      ['source.json', sourceJson],
      ['patches/fix.patch', PATCH],
    ];
    const res = await publish('corp', 'greeter', '1.0.0', parts);
    expect(res.statusCode, res.body).toBe(201);
    // A retry of the same publish (its answer lost) is the success it was, without fetching again.
    const hits = gitServer.hits;
    const before = await storage();
    const again = await publish('corp', 'greeter', '1.0.0', parts);
    expect(again.statusCode, again.body).toBe(201);
    expect(gitServer.hits).toBe(hits);
    expect(await storage()).toEqual(before);
    const served = await larder.app.inject({ method: 'GET', url: '/corp/modules/greeter/1.0.0/source.json' });
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload.equals(Buffer.from(sourceJson))).toBe(true);
    const patch = await larder.app.inject({ method: 'GET', url: '/corp/modules/greeter/1.0.0/patches/fix.patch' });
    expect(patch.body).toBe(PATCH);
  });

  it('reads MODULE.bazel at strip_prefix', async () => {
    const res = await publish('corp', 'greeter_sub', '1.0.0', [
      ['MODULE.bazel', moduleFile('greeter_sub', '1.0.0')],
      ['source.json', gitSource({ commit: commits.later, strip_prefix: 'sub' })],
    ]);
    expect(res.statusCode, res.body).toBe(201);
  });

  it('refuses a commit whose MODULE.bazel differs, a patch that does not apply, and a commit the remote lacks', async () => {
    const before = await storage();
    await expectRefused(
      await publish('corp', 'greeter', '1.1.0', [
        ['MODULE.bazel', moduleFile('greeter', '1.1.0')],
        ['source.json', gitSource({ commit: commits.later })],
      ]),
      400,
      new RegExp(`MODULE\\.bazel of .*greeter at ${commits.later} .*differs from the one published`),
      before,
    );
    const bad = PATCH.replace('return 41', 'return 40');
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', [
        ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
        ['source.json', gitSource({ commit: commits.later, patches: { 'fix.patch': sri(Buffer.from(bad)) }, patch_strip: 1 })],
        ['patches/fix.patch', bad],
      ]),
      400,
      /patch fix\.patch: hunk #1 for lib\.cc .* does not apply/,
      before,
    );
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', [
        ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
        ['source.json', gitSource({ commit: 'f'.repeat(40) })],
      ]),
      400,
      /has no commit f{40}/,
      before,
    );
  });

  it('refuses a tag without a commit, a short commit id, overlays, and remotes that are not http(s), before fetching anything', async () => {
    const before = await storage();
    const hits = gitServer.hits;
    const parts = (sourceJson: string): Part[] => [
      ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
      ['source.json', sourceJson],
    ];
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', parts(gitSource({ tag: 'v1.0.0' }))),
      400,
      /only a tag .*can be moved/,
      before,
    );
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', parts(gitSource({ commit: commits.later.slice(0, 12) }))),
      400,
      /full 40-hex/,
      before,
    );
    await expectRefused(
      await publish(
        'corp',
        'greeter',
        '2.0.0',
        parts(gitSource({ commit: commits.later, overlay: { 'BUILD.bazel': sri(Buffer.from('')) } })),
      ),
      400,
      /cannot have "overlay"/,
      before,
    );
    const local = path.join(work.path, 'repos', 'greeter');
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', parts(gitSource({ remote: `file://${local}`, commit: commits.later }))),
      400,
      /remote file:\/\/.* is refused: Larder fetches git over https .* not file/,
      before,
    );
    expect(gitServer.hits).toBe(hits);
  });

  it('fetches a commit that is no branch tip from a server speaking only protocol v0 (through its branches)', async () => {
    const res = await publish('corp', 'greeter', '1.5.0', [
      ['MODULE.bazel', moduleFile('greeter', '1.5.0')],
      ['source.json', gitSource({ remote: `${gitServerV0.url}/greeter`, commit: commits.middle })],
    ]);
    expect(res.statusCode, res.body).toBe(201);
  });

  it('refuses a remote that never answers once [outbound] timeout has passed', async () => {
    await withApp({ outbound: { timeoutMs: 2000 } }, async (app) => {
      const res = await app.publish(gitSource({ remote: `${silentUrl}/greeter`, commit: commits.later }));
      expect(res.statusCode, res.body).toBe(400);
      expect(JSON.parse(res.body).error.message).toMatch(
        /could not fetch http:\/\/127\.0\.0\.1:\d+\/greeter: it took longer than \[outbound\] timeout \(2 s\)/,
      );
    });
  });

  it('refuses a repository larger than limits.max_archive_size, and a tree larger than the bazel_source unpacked limit', async () => {
    await withApp({ limits: { maxArchiveSize: 64 * 1024 }, unpackedLimits: { bazelSource: 256 * 1024 } }, async (app) => {
      const big = await app.publish(gitSource({ remote: `${gitServer.url}/big`, commit: await head('big') }));
      expect(big.statusCode, big.body).toBe(413);
      expect(JSON.parse(big.body).error.message).toMatch(/the repository at .*\/big is larger than this registry's 64 KiB limit/);
      const wide = await app.publish(gitSource({ remote: `${gitServer.url}/wide`, commit: await head('wide') }));
      expect(wide.statusCode, wide.body).toBe(413);
      expect(JSON.parse(wide.body).error.message).toMatch(/the source tree at [0-9a-f]{40} is larger than this registry's 256 KiB limit/);
    });
  });

  it('keeps the address rules: a remote on a private address needs [outbound] allow_private', async () => {
    const before = await storage();
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', [
        ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
        ['source.json', gitSource({ remote: `${gitServer.url.replace('127.0.0.1', '127.0.0.2')}/greeter`, commit: commits.later })],
      ]),
      400,
      /its host is .*allow_private/,
      before,
    );
  });
});

describe('local_path sources', () => {
  it('are refused on publish: they only work for file:// registries', async () => {
    const before = await storage();
    await expectRefused(
      await publish('corp', 'greeter', '2.0.0', [
        ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
        ['source.json', '{"type": "local_path", "path": "greeter"}\n'],
      ]),
      400,
      /local_path sources only work for file:\/\/ registries/,
      before,
    );
  });

  it('are carried byte for byte by an import (imports never rewrite files)', async () => {
    const root = path.join(work.path, 'registry');
    const dir = path.join(root, 'modules', 'local_mod', '1.0.0');
    fs.mkdirSync(dir, { recursive: true });
    const sourceJson = Buffer.from('{\r\n  "type": "local_path",\r\n  "path": "../local_mod"\r\n}');
    fs.writeFileSync(path.join(dir, 'source.json'), sourceJson);
    fs.writeFileSync(path.join(dir, 'MODULE.bazel'), moduleFile('local_mod', '1.0.0'));
    fs.writeFileSync(path.join(root, 'bazel_registry.json'), '{"module_base_path": "../src"}\n');
    const repo = larder.registry.repos.get('imported')!;
    await importBazelTree(larder.registry, repo, root);
    const served = await larder.app.inject({ method: 'GET', url: '/imported/modules/local_mod/1.0.0/source.json' });
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload.equals(sourceJson)).toBe(true);
    // The publish policy (require_presubmit by default) is not an import's: a version without presubmit.yml is served.
    expect(repo.bazelPolicy).toBeUndefined();
    expect((await larder.app.inject({ method: 'GET', url: '/imported/modules/local_mod/1.0.0/MODULE.bazel' })).statusCode).toBe(200);
    expect((await larder.app.inject({ method: 'GET', url: '/imported/modules/local_mod/1.0.0/presubmit.yml' })).statusCode).toBe(404);
  });
});

describe('the publish policy', () => {
  it('refuses a git source under the BCR default, naming the setting, and accepts the same publish under a permissive policy', async () => {
    const parts: Part[] = [
      ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
      ['source.json', gitSource({ commit: commits.later })],
    ];
    const before = await storage();
    await expectRefused(
      await publish('bcr', 'greeter', '2.0.0', parts),
      403,
      /repos\.bcr\.bazel_policy\.source_types does not allow git_repository; add "git_repository" to it/,
      before,
    );
    expect((await publish('corp', 'greeter', '2.0.0', parts)).statusCode).toBe(201);
  });

  it("checks source URLs against the module's repository list by default (source_urls), not under source_urls = any", async () => {
    const sourceJson = JSON.stringify({
      url: `${filesUrl}/greeter-3.0.0.tar.gz`,
      integrity: sri(await archiveBytes()),
      strip_prefix: 'greeter-3.0.0',
    });
    const parts: Part[] = [
      ['MODULE.bazel', moduleFile('greeter', '3.0.0')],
      ['source.json', sourceJson],
      ['metadata', JSON.stringify({ homepage: 'https://example.com', maintainers: [], repository: ['github:example/greeter'] })],
    ];
    const before = await storage();
    await expectRefused(
      await publish('bcr', 'greeter', '3.0.0', parts),
      403,
      /source\.json url .* does not match the module's metadata\.json repository \["github:example\/greeter"\] .*repos\.bcr\.bazel_policy\.source_urls = "repository" requires/,
      before,
    );
    const ok = await publish('corp', 'greeter', '3.0.0', parts);
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('refuses hosts outside source_hosts, a missing presubmit.yml, and a lower compatibility_level, each naming its setting', async () => {
    const before = await storage();
    await expectRefused(
      await publish('strict', 'greeter', '1.0.0', [
        ['MODULE.bazel', moduleFile('greeter', '1.0.0')],
        ['source.json', gitSource({ commit: commits.good })],
        ['presubmit.yml', PRESUBMIT],
      ]),
      403,
      /on host 127\.0\.0\.1, which repos\.strict\.bazel_policy\.source_hosts does not list \(git\.corp\.example\)/,
      before,
    );
    const hosted = async (version: string, level: number, presubmit?: string): Promise<Part[]> => {
      const text = moduleFile('greeter', version).replace('compatibility_level = 1', `compatibility_level = ${level}`);
      const archive = await tarGz([{ name: `greeter-${version}/MODULE.bazel`, body: text }]);
      return [
        ['MODULE.bazel', text],
        ['archive', archive, `greeter-${version}.tar.gz`],
        ['strip_prefix', `greeter-${version}`],
        ...(presubmit ? [['presubmit.yml', presubmit] as Part] : []),
      ];
    };
    await expectRefused(
      await publish('strict', 'greeter', '1.0.0', await hosted('1.0.0', 2), { presubmit: false }),
      403,
      /repos\.strict\.bazel_policy\.require_presubmit is true .*: the publish needs a presubmit\.yml/,
      before,
    );
    await expectRefused(
      await publish('strict', 'greeter', '1.0.0', await hosted('1.0.0', 2, 'matrix:\n  platform: [debian11]\n')),
      403,
      /require_presubmit is true .*: presubmit\.yml needs at least one task/,
      before,
    );
    expect((await publish('strict', 'greeter', '1.0.0', await hosted('1.0.0', 2, PRESUBMIT))).statusCode).toBe(201);
    // non_decreasing: a rise needs no confirmation, a fall is refused.
    expect((await publish('strict', 'greeter', '2.0.0', await hosted('2.0.0', 3, PRESUBMIT))).statusCode).toBe(201);
    const after = await storage();
    await expectRefused(
      await publish('strict', 'greeter', '2.1.0', await hosted('2.1.0', 2, PRESUBMIT)),
      403,
      /compatibility_level 2 is below greeter@2\.0\.0's 3, which repos\.strict\.bazel_policy\.compatibility_level = "non_decreasing" refuses/,
      after,
    );
  });
});

async function head(repo: string): Promise<string> {
  return (await run('git', ['-C', path.join(work.path, 'repos', repo), 'rev-parse', 'HEAD'])).stdout.trim();
}

/**
 * A second Larder with other bounds (a short timeout, small limits) and a permissive policy; `publish` sends
 * greeter@2.0.0 with the given source.json. Checks that nothing was stored.
 */
async function withApp(
  opts: Pick<Parameters<typeof openTestApp>[0] & object, 'limits' | 'unpackedLimits'> & { outbound?: { timeoutMs: number } },
  body: (app: { publish(sourceJson: string): ReturnType<typeof publish> }) => Promise<void>,
): Promise<void> {
  const other = await openTestApp({
    repos: [{ name: 'corp', format: 'bazel', kind: 'hosted', visibility: 'public', bazelPolicy: PERMISSIVE }],
    limits: opts.limits,
    unpackedLimits: opts.unpackedLimits,
    outbound: { allowPrivate: ['127.0.0.1'], gitAllowHttp: true, ...opts.outbound },
  });
  try {
    await body({
      async publish(sourceJson) {
        const { payload, contentType } = await publishBody([
          ['MODULE.bazel', moduleFile('greeter', '2.0.0')],
          ['source.json', sourceJson],
        ]);
        return other.app.inject({
          method: 'PUT',
          url: '/corp/api/modules/greeter/2.0.0',
          payload,
          headers: { 'content-type': contentType, authorization: `Bearer ${other.adminToken}` },
        });
      },
    });
    const stored = await other.registry.db.selectFrom('index_docs').select('path').execute();
    expect(stored.filter((d) => d.path.startsWith('modules/'))).toEqual([]);
  } finally {
    await other.stop();
  }
}

const PRESUBMIT =
  'matrix:\n  platform: [debian11]\n  bazel: [7.x]\ntasks:\n  verify_targets:\n    platform: ${{ platform }}\n    bazel: ${{ bazel }}\n    build_targets: ["@greeter//..."]\n';

async function archiveBytes(): Promise<Buffer> {
  return Buffer.from(await (await fetch(`${filesUrl}/greeter-3.0.0.tar.gz`)).arrayBuffer());
}
