import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BCR_POLICY, initConfigText, loadConfig } from '../config.js';
import { LarderError } from '../errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'larder-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(lines: string[]) {
  writeFileSync(join(dir, 'larder.toml'), lines.join('\n') + '\n');
  return loadConfig({ cwd: dir, env: {} });
}

function failure(lines: string[]): string {
  try {
    load(lines);
  } catch (err) {
    expect((err as LarderError).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

const HOSTED = ['[[repos]]', 'name = "corp"', 'format = "bazel"', 'kind = "hosted"'];

describe('bazel_policy', () => {
  it('is unset by default (the BCR rules apply), and fills what a table leaves out from them', () => {
    expect(load(HOSTED).repos[0]!.bazelPolicy).toBeUndefined();
    const config = load([
      ...HOSTED,
      '[repos.bazel_policy]',
      'source_types = ["archive", "git_repository"]',
      'source_hosts = ["GitHub.com", "*.corp.example"]',
    ]);
    expect(config.repos[0]!.bazelPolicy).toEqual({
      ...BCR_POLICY,
      sourceTypes: ['archive', 'git_repository'],
      sourceHosts: ['github.com', '*.corp.example'],
    });
  });

  it('requires presubmit.yml by default, as the BCR does, and makes it optional with require_presubmit = false', () => {
    expect(BCR_POLICY.requirePresubmit).toBe(true);
    expect(load([...HOSTED, '[repos.bazel_policy]', 'source_urls = "any"']).repos[0]!.bazelPolicy!.requirePresubmit).toBe(true);
    expect(load([...HOSTED, '[repos.bazel_policy]', 'require_presubmit = false']).repos[0]!.bazelPolicy).toEqual({
      ...BCR_POLICY,
      requirePresubmit: false,
    });
    expect(failure([...HOSTED, '[repos.bazel_policy]', 'require_presubmit = "no"'])).toMatch(/larder\.toml:6: .*require_presubmit/);
  });

  it('reads every setting', () => {
    const config = load([
      ...HOSTED,
      '[repos.bazel_policy]',
      'source_types = ["git_repository"]',
      'source_urls = "any"',
      'require_presubmit = false',
      'compatibility_level = "non_decreasing"',
    ]);
    expect(config.repos[0]!.bazelPolicy).toEqual({
      sourceTypes: ['git_repository'],
      sourceUrls: 'any',
      sourceHosts: null,
      requirePresubmit: false,
      compatibilityLevel: 'non_decreasing',
    });
  });

  it('refuses local_path with the reason, other unknown values, and typos, naming the file line', () => {
    const message = failure([
      ...HOSTED,
      '[repos.bazel_policy]',
      'source_types = ["archive", "local_path"]',
      'compatibility_level = "loose"',
    ]);
    expect(message).toMatch(/larder\.toml:6: .*local_path sources only work for file:\/\/ registries/);
    expect(message).toMatch(/larder\.toml:7: .*compatibility_level: expected "bcr", "non_decreasing" or "any", got "loose"/);
    expect(failure([...HOSTED, '[repos.bazel_policy]', 'source_type = ["archive"]'])).toMatch(/did you mean "source_types"\?/);
    expect(failure([...HOSTED, '[repos.bazel_policy]', 'source_hosts = ["https://github.com/"]'])).toMatch(
      /expected a host name \("github\.com"\) or "\*\.example\.com"/,
    );
  });

  it('belongs to hosted Bazel repositories only', () => {
    const message = failure([
      '[[repos]]',
      'name = "crates"',
      'format = "cargo"',
      'kind = "hosted"',
      '[repos.bazel_policy]',
      'require_presubmit = true',
    ]);
    expect(message).toMatch(/only hosted bazel repositories take bazel_policy \(this one is cargo hosted\)/);
  });

  it('is described, commented out, in the file `larder init` writes, which loads back to the defaults', () => {
    const text = initConfigText();
    expect(text).toContain('# [repos.bazel_policy]');
    expect(text).toMatch(/^# require_presubmit = true +# .*; false: optional$/m);
    writeFileSync(join(dir, 'larder.toml'), text);
    expect(loadConfig({ cwd: dir, env: {} }).repos.every((r) => r.bazelPolicy === undefined)).toBe(true);
  });
});
