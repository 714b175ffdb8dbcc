import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
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

describe('static_origin', () => {
  it('is read on a public hosted repo: a directory relative to the file, or an s3:// URL as given', () => {
    const config = load([
      '[[repos]]',
      'name = "crates"',
      'format = "cargo"',
      'kind = "hosted"',
      'static_origin = "www/crates"',
      '[[repos]]',
      'name = "bcr"',
      'format = "bazel"',
      'kind = "hosted"',
      'static_origin = "s3://site/bcr?endpoint=http://127.0.0.1:9000"',
    ]);
    expect(config.repos.map((r) => r.staticOrigin)).toEqual([join(dir, 'www/crates'), 's3://site/bcr?endpoint=http://127.0.0.1:9000']);
  });

  it('is refused on a private repo, naming the file line and the setting', () => {
    const message = failure([
      '[[repos]]',
      'name = "in"',
      'format = "cargo"',
      'kind = "hosted"',
      'visibility = "private"',
      'static_origin = "www"',
    ]);
    expect(message).toMatch(/larder\.toml:6: repos\[0\]\.static_origin: a private repository cannot take static_origin/);
  });

  it('is refused on a proxy and on a group', () => {
    const message = failure([
      '[[repos]]',
      'name = "up"',
      'format = "cargo"',
      'kind = "proxy"',
      'upstream = "https://index.crates.io"',
      'static_origin = "www/up"',
      '[[repos]]',
      'name = "all"',
      'format = "cargo"',
      'kind = "group"',
      'members = ["up"]',
      'static_origin = "www/all"',
    ]);
    expect(message).toMatch(/repos\[0\]\.static_origin: only hosted repositories take static_origin \(this one is proxy\)/);
    expect(message).toMatch(/repos\[1\]\.static_origin: only hosted repositories take static_origin \(this one is group\)/);
  });

  it('is refused when two repos would share one tree (a sync of one would delete the other)', () => {
    const message = failure([
      '[[repos]]',
      'name = "a"',
      'format = "cargo"',
      'kind = "hosted"',
      'static_origin = "www"',
      '[[repos]]',
      'name = "b"',
      'format = "bazel"',
      'kind = "hosted"',
      'static_origin = "www"',
    ]);
    expect(message).toMatch(/repos\[1\]\.static_origin: repos\[0\] writes to .*www too/);
  });
});
