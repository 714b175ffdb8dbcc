import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BCR_POLICY, type BazelPolicy } from '../../core/config.js';
import { LarderError } from '../../core/errors.js';
import type { Repo } from '../../registry/repos.js';
import { moduleFile, PRESUBMIT_YML, publishBody, sourceArchive, type Part, type PublishBodyOptions } from '../../../test/support/bazel.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { registryState } from '../../../test/support/state.js';
import { checkPresubmit, checkSourceType, checkSourceUrl } from './policy.js';

function repo(policy?: Partial<BazelPolicy>): Repo {
  return {
    id: 1,
    name: 'bcr',
    format: 'bazel',
    kind: 'hosted',
    visibility: 'public',
    ...(policy ? { bazelPolicy: { ...BCR_POLICY, ...policy } } : {}),
  };
}

/** The refusal a call throws: its code and message. */
function refusal(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    return { code: (err as LarderError).code, message: (err as Error).message };
  }
  throw new Error('expected a refusal');
}

describe('source types', () => {
  it('allows archives under the BCR default, and git sources only when the policy lists them', () => {
    expect(checkSourceType(repo(), 'archive')).toBe('archive');
    expect(refusal(() => checkSourceType(repo(), 'git_repository'))).toEqual({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(/^repos\.bcr\.bazel_policy\.source_types does not allow git_repository; add "git_repository" to it/),
    });
    expect(checkSourceType(repo({ sourceTypes: ['archive', 'git_repository'] }), 'git_repository')).toBe('git_repository');
    expect(refusal(() => checkSourceType(repo({ sourceTypes: ['git_repository'] }), 'archive')).message).toMatch(
      /source_types does not allow archive/,
    );
  });

  it('refuses local_path under any policy (file:// registries only) and types Bazel does not know', () => {
    const open = repo({ sourceTypes: ['archive', 'git_repository'] });
    expect(refusal(() => checkSourceType(open, 'local_path')).message).toMatch(/local_path sources only work for file:\/\/ registries/);
    expect(refusal(() => checkSourceType(open, 'http_archive')).message).toMatch(/"http_archive" is not one Bazel knows/);
  });
});

describe('source URLs', () => {
  const github = ['github:example/greeter'];
  const allowed = (url: string, list: string[], kind: 'archive' | 'git' = 'archive', r = repo()) => {
    try {
      checkSourceUrl(r, url, 'source.json url', list, kind);
      return true;
    } catch (err) {
      expect((err as LarderError).code).toBe('POLICY_REFUSED');
      return false;
    }
  };

  it("matches the module's repository list as the BCR does: GitHub release assets, URL prefixes on the same scheme and host", () => {
    expect(allowed('https://github.com/example/greeter/releases/download/v1/greeter-1.tar.gz', github)).toBe(true);
    // GitHub's generated tarballs are not byte-stable; another repository is another project.
    expect(allowed('https://github.com/example/greeter/archive/refs/tags/v1.tar.gz', github)).toBe(false);
    expect(allowed('https://github.com/example/greeter-fork/releases/download/v1/x.tar.gz', github)).toBe(false);
    expect(allowed('https://github.com/example/greeter/releases/download/../../../evil/releases/download/x.tar.gz', github)).toBe(false);
    expect(allowed('http://github.com/example/greeter/releases/download/v1/x.tar.gz', github)).toBe(false);
    const prefix = ['https://files.example.com/greeter'];
    expect(allowed('https://files.example.com/greeter/1.0/greeter.tar.gz', prefix)).toBe(true);
    expect(allowed('https://files.example.com/greeterx/greeter.tar.gz', prefix)).toBe(false);
    expect(allowed('https://files.example.com/greeter/../other/x.tar.gz', prefix)).toBe(false);
    expect(allowed('http://files.example.com/greeter/1.0/greeter.tar.gz', prefix)).toBe(false);
    expect(allowed('https://other.example.com/greeter/1.0/greeter.tar.gz', prefix)).toBe(false);
    // No list: nothing to match (the BCR's rule).
    expect(allowed('https://anywhere.example/x.tar.gz', [])).toBe(true);
  });

  it("refuses archives GitHub generates (the BCR's URL stability rule), with or without a repository list", () => {
    expect(allowed('https://github.com/o/r/releases/download/v1/r-1.tar.gz', [])).toBe(true);
    expect(allowed('https://github.com/o/r/archive/refs/tags/v1.tar.gz', [])).toBe(false);
    expect(
      refusal(() => checkSourceUrl(repo(), 'https://github.com/o/r/archive/v1.zip', 'source.json url', [], 'archive')).message,
    ).toMatch(/is an archive GitHub generates .*repos\.bcr\.bazel_policy\.source_urls = "repository" refuses/);
    expect(allowed('https://github.com/o/r/archive/v1.zip', [], 'archive', repo({ sourceUrls: 'any' }))).toBe(true);
    // A git remote on github.com is a repository, not an archive.
    expect(allowed('https://github.com/o/r.git', [], 'git')).toBe(true);
  });

  it('matches git remotes by repository: the GitHub repository itself, or a remote under a prefix', () => {
    expect(allowed('https://github.com/example/greeter.git', github, 'git')).toBe(true);
    expect(allowed('https://github.com/example/greeter', github, 'git')).toBe(true);
    expect(allowed('https://github.com/example/other.git', github, 'git')).toBe(false);
    expect(allowed('https://git.corp.example/team/greeter.git', ['https://git.corp.example/team/'], 'git')).toBe(true);
  });

  it('names source_urls in the refusal, and allows anything with source_urls = "any"', () => {
    expect(refusal(() => checkSourceUrl(repo(), 'https://x.example/a.tar.gz', 'source.json url', github, 'archive')).message).toMatch(
      /does not match the module's metadata\.json repository \["github:example\/greeter"\] .*repos\.bcr\.bazel_policy\.source_urls = "repository" requires/,
    );
    expect(allowed('https://x.example/a.tar.gz', github, 'archive', repo({ sourceUrls: 'any' }))).toBe(true);
  });

  it('keeps to source_hosts when set, subdomains by "*."', () => {
    const r = repo({ sourceUrls: 'any', sourceHosts: ['github.com', '*.corp.example'] });
    expect(allowed('https://github.com/o/r/releases/download/v1/r.tar.gz', [], 'archive', r)).toBe(true);
    expect(allowed('https://git.corp.example/r.git', [], 'git', r)).toBe(true);
    expect(allowed('https://corp.example.evil.test/r.git', [], 'git', r)).toBe(false);
    expect(allowed('https://evilcorp.example/r.git', [], 'git', r)).toBe(false);
    expect(refusal(() => checkSourceUrl(r, 'https://gitlab.com/o/r.git', 'git_repository remote', [], 'git')).message).toMatch(
      /git_repository remote https:\/\/gitlab\.com\/o\/r\.git is on host gitlab\.com, which repos\.bcr\.bazel_policy\.source_hosts does not list \(github\.com, \*\.corp\.example\)/,
    );
  });
});

describe('presubmit.yml', () => {
  const PRESUBMIT = Buffer.from('matrix:\n  bazel: [7.x]\ntasks:\n  verify_targets:\n    platform: debian11\n    bazel: ${{ bazel }}\n');

  it('is required by default (the BCR rule), with tasks naming their Bazel versions, and optional with require_presubmit = false', () => {
    expect(BCR_POLICY.requirePresubmit).toBe(true);
    for (const strict of [repo(), repo({ requirePresubmit: true })]) {
      expect(refusal(() => checkPresubmit(strict, undefined))).toEqual({
        code: 'POLICY_REFUSED',
        message: expect.stringMatching(/^repos\.bcr\.bazel_policy\.require_presubmit is true .*: the publish needs a presubmit\.yml part/),
      });
      expect(refusal(() => checkPresubmit(strict, Buffer.from('tasks: {}\n'))).message).toMatch(/at least one task/);
      expect(() => checkPresubmit(strict, PRESUBMIT)).not.toThrow();
    }
    const loose = repo({ requirePresubmit: false });
    expect(() => checkPresubmit(loose, undefined)).not.toThrow();
    expect(() => checkPresubmit(loose, Buffer.from('tasks: {}\n'))).not.toThrow();
  });

  it('says what to do in the refusal: send presubmit.yml, or set require_presubmit = false for that repository', () => {
    const { message } = refusal(() => checkPresubmit(repo(), undefined));
    expect(message).toContain('`larder bazel publish --presubmit FILE`');
    expect(message).toContain('.bcr/presubmit.yml');
    expect(message).toContain('set require_presubmit = false under [repos.bazel_policy] of the [[repos]] entry "bcr" in larder.toml');
    expect(refusal(() => checkPresubmit(repo(), Buffer.from('matrix:\n  platform: [debian11]\n'))).message).toMatch(
      /needs at least one task in "tasks" or "bcr_test_module\.tasks", each with a "bazel" field .*; add one, or set require_presubmit = false under \[repos\.bazel_policy\] of the \[\[repos\]\] entry "bcr"/,
    );
  });
});

describe('require_presubmit through the publish API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp({
      repos: [
        { name: 'bcr', format: 'bazel', kind: 'hosted', visibility: 'public' },
        {
          name: 'loose',
          format: 'bazel',
          kind: 'hosted',
          visibility: 'public',
          bazelPolicy: { ...BCR_POLICY, requirePresubmit: false },
        },
      ],
    });
  });
  afterAll(() => t?.stop());

  const parts = async (): Promise<Part[]> => {
    const text = moduleFile('greeter', '1.0.0');
    return [
      ['MODULE.bazel', text],
      ['archive', await sourceArchive('greeter-1.0.0', text), 'greeter-1.0.0.tar.gz'],
      ['strip_prefix', 'greeter-1.0.0'],
    ];
  };
  const publish = async (repoName: string, body: Part[], options?: PublishBodyOptions) => {
    const { payload, contentType } = await publishBody(body, options);
    return t.app.inject({
      method: 'PUT',
      url: `/${repoName}/api/modules/greeter/1.0.0`,
      payload,
      headers: { 'content-type': contentType, authorization: `Bearer ${t.adminToken}` },
    });
  };
  const get = (url: string) => t.app.inject({ method: 'GET', url });

  it('refuses a publish without presubmit.yml under the default, naming the setting and the repository, and changes nothing', async () => {
    const before = await registryState(t.registry, t.data);
    const res = await publish('bcr', await parts(), { presubmit: false });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().error).toEqual({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(
        /^repos\.bcr\.bazel_policy\.require_presubmit is true .*`larder bazel publish --presubmit FILE`.* set require_presubmit = false under \[repos\.bazel_policy\] of the \[\[repos\]\] entry "bcr"/,
      ),
    });
    const tasksWithoutBazel = 'tasks:\n  verify_targets:\n    platform: debian11\n';
    const bad = await publish('bcr', [...(await parts()), ['presubmit.yml', tasksWithoutBazel]]);
    expect(bad.statusCode, bad.body).toBe(403);
    expect(bad.json().error.message).toMatch(/require_presubmit is true .*: presubmit\.yml needs at least one task/);
    expect(await registryState(t.registry, t.data)).toEqual(before);
    expect((await get('/bcr/modules/greeter/metadata.json')).statusCode).toBe(404);
    expect((await get('/bcr/modules/greeter/1.0.0/MODULE.bazel')).statusCode).toBe(404);
  });

  it('accepts the same publish with require_presubmit = false, and one that brings a presubmit.yml under the default', async () => {
    const loose = await publish('loose', await parts(), { presubmit: false });
    expect(loose.statusCode, loose.body).toBe(201);
    expect((await get('/loose/modules/greeter/1.0.0/MODULE.bazel')).statusCode).toBe(200);
    expect((await get('/loose/modules/greeter/1.0.0/presubmit.yml')).statusCode).toBe(404);
    const strict = await publish('bcr', await parts());
    expect(strict.statusCode, strict.body).toBe(201);
    const served = await get('/bcr/modules/greeter/1.0.0/presubmit.yml');
    expect([served.statusCode, served.body]).toEqual([200, PRESUBMIT_YML]);
  });
});
