/** The [http2] table: streams per connection and the receive window, from the file or the environment. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.js';
import { initConfigText, loadConfig } from '../config.js';

const dir = tempDir('larder-config-http2-');
afterAll(() => dir.remove());

function load(toml: string, env: Record<string, string> = {}) {
  const file = path.join(dir.path, 'larder.toml');
  fs.writeFileSync(file, toml);
  return loadConfig({ file, cwd: dir.path, env });
}

it('defaults to 128 streams and a 1 MiB window, which `larder init` writes out', () => {
  const defaults = { maxConcurrentStreams: 128, windowBytes: 2 ** 20 };
  expect(loadConfig({ cwd: dir.path, env: {} }).http2).toEqual(defaults);
  expect(load(initConfigText()).http2).toEqual(defaults);
});

it('reads both keys from the file, the LARDER_HTTP2_* environment over it', () => {
  expect(load('[http2]\nmax_concurrent_streams = 256\nwindow = "4MiB"\n').http2).toEqual({
    maxConcurrentStreams: 256,
    windowBytes: 4 * 2 ** 20,
  });
  expect(
    load('[http2]\nmax_concurrent_streams = 256\n', { LARDER_HTTP2_MAX_CONCURRENT_STREAMS: '100', LARDER_HTTP2_WINDOW: '65535' }).http2,
  ).toEqual({ maxConcurrentStreams: 100, windowBytes: 65_535 });
});

it('names a value out of the protocol’s range, and a misspelt key', () => {
  expect(() => load('[http2]\nmax_concurrent_streams = 0\n')).toThrow(
    /larder\.toml:2: http2\.max_concurrent_streams: expected at least 1, got 0/,
  );
  expect(() => load('', { LARDER_HTTP2_MAX_CONCURRENT_STREAMS: '2147483648' })).toThrow(
    /LARDER_HTTP2_MAX_CONCURRENT_STREAMS: .*2147483647/,
  );
  expect(() => load('', { LARDER_HTTP2_MAX_CONCURRENT_STREAMS: 'many' })).toThrow(/LARDER_HTTP2_MAX_CONCURRENT_STREAMS: .*got "many"/);
  expect(() => load('[http2]\nwindow = "32KiB"\n')).toThrow(/larder\.toml:2: http2\.window: expected a size from 65535 bytes/);
  expect(() => load('', { LARDER_HTTP2_WINDOW: '4GiB' })).toThrow(/LARDER_HTTP2_WINDOW: expected a size from 65535 bytes/);
  expect(() => load('[http2]\nmax_streams = 100\n')).toThrow(/max_streams/);
});
