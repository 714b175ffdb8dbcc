/** The [cache] table: the index-document cache's byte budget, from the file or the environment. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/tmp.js';
import { initConfigText, loadConfig } from '../config.js';

const dir = tempDir('larder-config-cache-');
afterAll(() => dir.remove());

function load(toml: string, env: Record<string, string> = {}) {
  const file = path.join(dir.path, 'larder.toml');
  fs.writeFileSync(file, toml);
  return loadConfig({ file, cwd: dir.path, env });
}

it('defaults to 64 MiB of index documents, which `larder init` writes out', () => {
  expect(loadConfig({ cwd: dir.path, env: {} }).cache).toEqual({ indexDocuments: 64 * 2 ** 20 });
  expect(load(initConfigText()).cache).toEqual({ indexDocuments: 64 * 2 ** 20 });
});

it('reads index_documents from the file, LARDER_CACHE_INDEX_DOCUMENTS over it, and names a bad value', () => {
  expect(load('[cache]\nindex_documents = "16MiB"\n').cache.indexDocuments).toBe(16 * 2 ** 20);
  expect(load('[cache]\nindex_documents = 0\n').cache.indexDocuments).toBe(0);
  expect(load('[cache]\nindex_documents = "16MiB"\n', { LARDER_CACHE_INDEX_DOCUMENTS: '1GiB' }).cache.indexDocuments).toBe(2 ** 30);
  expect(() => load('[cache]\nindex_documents = "lots"\n')).toThrow(/larder\.toml:2: cache\.index_documents: invalid size "lots"/);
  expect(() => load('', { LARDER_CACHE_INDEX_DOCUMENTS: '-1' })).toThrow(/LARDER_CACHE_INDEX_DOCUMENTS: invalid size "-1"/);
  expect(() => load('[cache]\nindex_document = "1MiB"\n')).toThrow(/index_document/);
});
