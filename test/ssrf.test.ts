/**
 * Standing SSRF and disk-escape cases (issue 8, item 2): URLs a request names (Bazel source.json
 * archives, Julia git registrations) reach only public addresses over http(s) unless larder.toml's
 * [outbound] allows more; redirects are re-checked; refusals name the rule and the setting, echo
 * nothing the target answered, and change nothing; nothing read from a clone resolves outside it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sri } from '../src/core/sri.js';
import { readTarEntries } from '../src/formats/julia/tree-hash.js';
import { tarGz } from './support/archives.js';
import { moduleFile, publishBody, type Part } from './support/bazel.js';
import { commitRepo, startGitServer, type GitServer } from './support/git-server.js';
import { openTestApp, type TestApp } from './support/larder.js';
import { snapshotFiles, tempDir } from './support/tmp.js';

const run = promisify(execFile);
const REG = '5e5e5e5e-0000-4000-8000-000000000001';
const SECRET = 'SECRET-CONTENT-7c1d';
const work = tempDir('larder-ssrf-');

/** An HTTP server on `host` counting the requests it gets. */
async function countingServer(host: string, route: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const s = http.createServer((req, res) => {
    srv.hits++;
    route(req, res);
  });
  await new Promise<void>((r) => s.listen(0, host, r));
  const srv = {
    hits: 0,
    port: (s.address() as AddressInfo).port,
    url: `http://${host}:${(s.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
  return srv;
}

let strict: TestApp; // [outbound] as shipped: nothing private allowed
let allowing: TestApp; // allow_private = ["127.0.0.1", "localhost"], the git server's CA, git over http allowed
let archive: Buffer;
let files: Awaited<ReturnType<typeof countingServer>>; // 127.0.0.1: archives, error answers, a redirect to `internal`
let internal: Awaited<ReturnType<typeof countingServer>>; // 127.0.0.2: an internal service serving the same archive
let git: GitServer; // https on 127.0.0.1
let internalGit: GitServer; // http on 127.0.0.2
let gitRedirect: Awaited<ReturnType<typeof countingServer>>; // 127.0.0.1, redirects to internalGit

const text = moduleFile('probe', '1.0.0');

beforeAll(async () => {
  archive = await tarGz([{ name: 'probe-1.0.0/MODULE.bazel', body: text }]);
  internal = await countingServer('127.0.0.2', (_req, res) => res.end(archive));
  files = await countingServer('127.0.0.1', (req, res) => {
    if (req.url === '/probe.tar.gz') res.end(archive);
    else if (req.url === '/to-internal.tar.gz') res.writeHead(302, { location: `${internal.url}/probe.tar.gz` }).end();
    else res.writeHead(503).end(SECRET);
  });
  const repos = path.join(work.path, 'repos');
  fs.mkdirSync(repos);
  git = await startGitServer(repos, { tls: true });
  internalGit = await startGitServer(repos, { host: '127.0.0.2' });
  gitRedirect = await countingServer('127.0.0.1', (req, res) => res.writeHead(302, { location: `${internalGit.url}${req.url}` }).end());
  const julia = { name: 'julia', format: 'julia', kind: 'hosted', visibility: 'public' } as const;
  const bazel = { name: 'bazel', format: 'bazel', kind: 'hosted', visibility: 'public' } as const;
  strict = await openTestApp({ repos: [julia, bazel] });
  allowing = await openTestApp({
    repos: [julia, bazel],
    outbound: { allowPrivate: ['127.0.0.1', 'localhost'], caFile: git.caFile, gitAllowHttp: true },
  });
  for (const app of [strict, allowing]) {
    const res = await app.app.inject({
      method: 'POST',
      url: '/julia/api/registries',
      payload: { name: 'Probe', uuid: REG },
      headers: { authorization: `Bearer ${app.adminToken}` },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
});
afterAll(async () => {
  await strict?.stop();
  await allowing?.stop();
  await Promise.all([files?.close(), internal?.close(), git?.close(), internalGit?.close(), gitRedirect?.close()]);
  work.remove();
});

/** Everything a refused request must leave alone: index documents, recorded blobs, blob files. */
async function stored(app: TestApp) {
  const docs = await app.registry.db.selectFrom('index_docs').select(['path', 'etag']).orderBy('path').execute();
  const blobs = await app.registry.db.selectFrom('blobs').select('sha256').orderBy('sha256').execute();
  return { docs, blobs, files: snapshotFiles(path.join(app.data, 'blobs')) };
}

async function publish(app: TestApp, version: string, source: object) {
  const parts: Part[] = [
    ['MODULE.bazel', moduleFile('probe', version)],
    ['source.json', `${JSON.stringify(source, null, 4)}\n`],
  ];
  const { payload, contentType } = await publishBody(parts);
  return app.app.inject({
    method: 'PUT',
    url: `/bazel/api/modules/probe/${version}`,
    payload,
    headers: { 'content-type': contentType, authorization: `Bearer ${app.adminToken}` },
  });
}

const register = (app: TestApp, body: object) =>
  app.app.inject({
    method: 'PUT',
    url: `/julia/api/registries/${REG}/packages`,
    payload: body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.adminToken}` },
  });

/** A refusal as a user sees it: the status, code and message, with nothing of the target's answer in it. */
function expectRefused(res: { statusCode: number; body: string }, code: string, message: RegExp): string {
  expect(res.statusCode, res.body).toBe(400);
  const error = JSON.parse(res.body).error as { code: string; message: string };
  expect(error.code, error.message).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.message).not.toContain(SECRET);
  expect(error.message).not.toContain(sri(archive, 'sha256'));
  expect(error.message).not.toMatch(/\b503\b|\b302\b/);
  return error.message;
}

describe('Bazel source.json archive URLs', () => {
  it('refuses loopback, private, link-local and mapped addresses, and host names resolving to them, fetching nothing', async () => {
    const before = await stored(strict);
    const urls: Array<[string, RegExp]> = [
      [`${files.url}/probe.tar.gz`, /its host is a loopback address/],
      [`http://localhost:${files.port}/probe.tar.gz`, /its host resolves to a loopback address/],
      [`http://[::1]:${files.port}/probe.tar.gz`, /its host is a loopback address/],
      [`http://[::ffff:127.0.0.1]:${files.port}/probe.tar.gz`, /its host is a loopback address/],
      ['http://10.0.0.1/probe.tar.gz', /its host is a private address/],
      ['http://169.254.169.254/latest/meta-data/iam', /its host is a link-local address/],
    ];
    for (const [url, rule] of urls) {
      const message = expectRefused(
        await publish(strict, '1.0.0', { url, integrity: sri(archive), strip_prefix: 'probe-1.0.0' }),
        'URL_NOT_ALLOWED',
        rule,
      );
      expect(message).toMatch(/\[outbound\] allow_private/);
    }
    expect(files.hits).toBe(0);
    expect(await stored(strict)).toEqual(before);
    expect((await strict.app.inject({ method: 'GET', url: '/bazel/modules/probe/metadata.json' })).statusCode).toBe(404);
  });

  it('refuses a redirect from an allowed server to an address that is not allowed, and such mirror_urls', async () => {
    const before = await stored(allowing);
    expectRefused(
      await publish(allowing, '1.0.0', { url: `${files.url}/to-internal.tar.gz`, integrity: sri(archive), strip_prefix: 'probe-1.0.0' }),
      'URL_NOT_ALLOWED',
      /redirects to a host that is a loopback address/,
    );
    expectRefused(
      await publish(allowing, '1.0.0', {
        url: `${files.url}/probe.tar.gz`,
        integrity: sri(archive),
        strip_prefix: 'probe-1.0.0',
        mirror_urls: [`${internal.url}/probe.tar.gz`],
      }),
      'URL_NOT_ALLOWED',
      /mirror_urls entry .* its host is a loopback address/,
    );
    expect(internal.hits).toBe(0);
    expect(await stored(allowing)).toEqual(before);
  });

  it('does not echo the status, body or hash of what an allowed URL answered', async () => {
    const before = await stored(allowing);
    expectRefused(
      await publish(allowing, '1.0.0', { url: `${files.url}/error`, integrity: sri(archive) }),
      'ARCHIVE_INVALID',
      /did not answer with the file/,
    );
    expectRefused(
      await publish(allowing, '1.0.0', { url: `${files.url}/probe.tar.gz`, integrity: sri(Buffer.from('other')) }),
      'ARCHIVE_INVALID',
      /does not match the integrity in source\.json/,
    );
    expect(await stored(allowing)).toEqual(before);
  });

  it('fetches what the operator allows, by address or host name', async () => {
    const res = await publish(allowing, '1.0.0', {
      url: `${files.url}/probe.tar.gz`,
      integrity: sri(archive),
      strip_prefix: 'probe-1.0.0',
    });
    expect(res.statusCode, res.body).toBe(201);
    const byName = await publish(allowing, '1.0.1', {
      url: `http://localhost:${files.port}/probe.tar.gz`,
      integrity: sri(archive),
      strip_prefix: 'probe-1.0.0',
    });
    expect(byName.statusCode).toBe(400); // reached and verified: only the version in MODULE.bazel differs
    expect(JSON.parse(byName.body).error.message).toMatch(/MODULE\.bazel in the source tree/);
  });
});

describe('Julia registration from git', () => {
  beforeAll(async () => {
    // A package whose repository also holds symlinks out of it: to /, to a file, and a directory of its own.
    const repo = path.join(git.root, 'Probe.jl');
    fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'lib', 'Sub'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'Project.toml'),
      'name = "Probe"\nuuid = "5e5e5e5e-1111-4222-8333-444444444444"\nversion = "0.1.0"\n\n[compat]\njulia = "1.6"\n',
    );
    fs.writeFileSync(path.join(repo, 'src', 'Probe.jl'), 'module Probe end\n');
    fs.writeFileSync(
      path.join(repo, 'lib', 'Sub', 'Project.toml'),
      'name = "Sub"\nuuid = "5e5e5e5e-1111-4222-8333-555555555555"\nversion = "0.1.0"\n\n[compat]\njulia = "1.6"\n',
    );
    fs.symlinkSync('/', path.join(repo, 'root'));
    fs.symlinkSync('/etc/passwd', path.join(repo, 'passwd'));
    fs.symlinkSync('/etc', path.join(repo, 'lib', 'etc'));
    await commitRepo(repo, 'v0.1.0');
  });

  it('refuses file://, ssh://, git:// and scp-style URLs', async () => {
    const before = await stored(strict);
    const repo = path.join(git.root, 'Probe.jl');
    for (const url of [
      `file://${repo}`,
      'ssh://git@127.0.0.1/Probe.jl',
      'git://127.0.0.1/Probe.jl',
      `ext::sh -c touch% ${work.path}/pwned`,
    ]) {
      expectRefused(await register(strict, { git: url, rev: 'v0.1.0' }), 'URL_NOT_ALLOWED', /Larder clones over https only/);
    }
    expectRefused(await register(strict, { git: `${repo}`, rev: 'v0.1.0' }), 'METADATA_INVALID', /git must be a https:\/\/ URL/);
    expectRefused(
      await register(strict, { git: 'git@127.0.0.1:Probe.jl', rev: 'v0.1.0' }),
      'METADATA_INVALID',
      /git must be a https:\/\/ URL/,
    );
    expect(fs.existsSync(path.join(work.path, 'pwned'))).toBe(false);
    expect(await stored(strict)).toEqual(before);
  });

  it('refuses loopback, private and link-local hosts before cloning, and plain http unless allowed', async () => {
    const before = await stored(strict);
    const port = new URL(git.url).port;
    const urls: Array<[string, RegExp]> = [
      [`${git.url}/Probe.jl`, /its host is a loopback address/],
      [`https://localhost:${port}/Probe.jl`, /its host resolves to a loopback address/],
      [`https://[::1]:${port}/Probe.jl`, /its host is a loopback address/],
      [`https://[::ffff:127.0.0.1]:${port}/Probe.jl`, /its host is a loopback address/],
      ['https://10.0.0.1/Probe.jl', /its host is a private address/],
      ['https://169.254.169.254/Probe.jl', /its host is a link-local address/],
    ];
    for (const [url, rule] of urls) {
      expect(expectRefused(await register(strict, { git: url, rev: 'v0.1.0' }), 'URL_NOT_ALLOWED', rule)).toMatch(
        /\[outbound\] allow_private/,
      );
    }
    expectRefused(
      await register(strict, { git: `${internalGit.url}/Probe.jl`, rev: 'v0.1.0' }),
      'URL_NOT_ALLOWED',
      /https only, not http; .*\[outbound\] git_allow_http = true/,
    );
    expect(git.hits + internalGit.hits).toBe(0);
    expect(await stored(strict)).toEqual(before);
  });

  it('does not follow a redirect from an allowed server', async () => {
    const before = await stored(allowing);
    expectRefused(
      await register(allowing, { git: `${gitRedirect.url}/Probe.jl`, rev: 'v0.1.0' }),
      'ARCHIVE_INVALID',
      /could not clone .* it redirects \(use the final URL\)/,
    );
    expect(gitRedirect.hits).toBeGreaterThan(0);
    expect(internalGit.hits).toBe(0);
    expect(await stored(allowing)).toEqual(before);
  });

  it('refuses a subdir that is a symlink (to / or to a file outside) or leaves the repository, storing nothing', async () => {
    const before = await stored(allowing);
    const url = `${git.url}/Probe.jl`;
    expectRefused(
      await register(allowing, { git: url, rev: 'v0.1.0', subdir: 'root' }),
      'METADATA_INVALID',
      /subdir root is not a directory .*symlink/,
    );
    expectRefused(
      await register(allowing, { git: url, rev: 'v0.1.0', subdir: 'passwd' }),
      'METADATA_INVALID',
      /subdir passwd is not a directory/,
    );
    expectRefused(
      await register(allowing, { git: url, rev: 'v0.1.0', subdir: 'lib/etc' }),
      'METADATA_INVALID',
      /subdir lib\/etc is not a directory/,
    );
    expectRefused(
      await register(allowing, { git: url, rev: 'v0.1.0', subdir: 'root/etc' }),
      'METADATA_INVALID',
      /subdir root\/etc is not in/,
    );
    expectRefused(
      await register(allowing, { git: url, rev: 'v0.1.0', subdir: '../..' }),
      'METADATA_INVALID',
      /must be a relative path inside the repository/,
    );
    expect(await stored(allowing)).toEqual(before);
  });

  it('registers what the operator allows, keeping symlinks as symlinks: the package serves no file from the server', async () => {
    const res = await register(allowing, { git: `${git.url}/Probe.jl`, rev: 'v0.1.0' });
    expect(res.statusCode, res.body).toBe(201);
    const { packageTree } = JSON.parse(res.body) as { packageTree: string };
    expect(packageTree).toBe((await run('git', ['-C', path.join(git.root, 'Probe.jl'), 'rev-parse', 'HEAD^{tree}'])).stdout.trim());
    const download = await allowing.app.inject({
      method: 'GET',
      url: `/julia/package/5e5e5e5e-1111-4222-8333-444444444444/${packageTree}`,
    });
    expect(download.statusCode).toBe(200);
    const entries = new Map<string, { type: string; link?: string; body: string }>();
    await readTarEntries(
      Readable.from([download.rawPayload]),
      async ({ header, body }) => {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c);
        entries.set(header.name, { type: header.type ?? '', link: header.linkname ?? undefined, body: Buffer.concat(chunks).toString() });
      },
      { gzip: true },
    );
    expect(entries.get('passwd')).toMatchObject({ type: 'symlink', link: '/etc/passwd', body: '' });
    expect(entries.get('root')).toMatchObject({ type: 'symlink', link: '/' });
    expect(entries.get('lib/etc')).toMatchObject({ type: 'symlink', link: '/etc' });
    expect([...entries.keys()].filter((k) => k.startsWith('root/') || k.startsWith('lib/etc/'))).toEqual([]);
    expect([...entries.values()].some((e) => e.body.includes('root:x:0:0'))).toBe(false);
    // A subdir that is a real directory is fine.
    const sub = await register(allowing, { git: `${git.url}/Probe.jl`, rev: 'v0.1.0', subdir: 'lib/Sub' });
    expect(sub.statusCode, sub.body).toBe(201);
  });
});
