/** The [uploads] table: sizes and durations as people write them, defaults, and typos caught. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.js';
import { initConfigText, loadConfig } from '../config.js';

const dir = tempDir('larder-config-uploads-');
afterAll(() => dir.remove());

function load(toml: string) {
  const file = path.join(dir.path, 'larder.toml');
  fs.writeFileSync(file, toml);
  return loadConfig({ file, cwd: dir.path, env: {} });
}

it('defaults to 256 MiB and a 10 s wait, which `larder init` writes out', () => {
  expect(loadConfig({ cwd: dir.path, env: {} }).uploads).toEqual({ memory: 256 * 2 ** 20, waitMs: 10_000 });
  expect(load(initConfigText()).uploads).toEqual({ memory: 256 * 2 ** 20, waitMs: 10_000 });
});

it('reads memory and wait, and names a bad value or an unknown key with its line', () => {
  expect(load('[uploads]\nmemory = "1GiB"\nwait = "1m30s"\n').uploads).toEqual({ memory: 2 ** 30, waitMs: 90_000 });
  expect(() => load('[uploads]\nmemory = "lots"\n')).toThrow(/larder\.toml:2: uploads\.memory: invalid size "lots"/);
  expect(() => load('[uploads]\nwait = 5\n')).toThrow(/larder\.toml:2: uploads\.wait/);
  expect(() => load('[uploads]\nmemmory = "1GiB"\n')).toThrow(/memmory/);
});
