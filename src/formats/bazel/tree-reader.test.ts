import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { strongEtag } from '../../core/hash.js';
import { tempDir } from '../../../test/support/tmp.js';
import { listTree, statKey, TreeReader } from './tree-reader.js';

const dir = tempDir('larder-tree-reader-');
afterAll(() => dir.remove());

/** Files of every size class: empty, small, and larger than the reader's first buffer (so it grows mid-batch). */
const files: Record<string, Buffer> = {
  'modules/a/metadata.json': Buffer.from('{"versions": ["1.0.0"]}\n'),
  'modules/a/1.0.0/MODULE.bazel': Buffer.alloc(0),
  'modules/a/1.0.0/patches/big.patch': Buffer.alloc(3 * 1024 * 1024 + 7, 'x'),
  'modules/b/metadata.json': Buffer.from([0, 1, 2, 255]),
};
for (const [rel, body] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(dir.path, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir.path, rel), body);
}

describe('TreeReader', () => {
  it('reads each file with the etag and stat the import compares, in the order asked, batch after batch', async () => {
    const reader = new TreeReader(dir.path);
    try {
      const rels = Object.keys(files);
      const [first, second] = await Promise.all([reader.read(rels.slice(0, 3)), reader.read(rels.slice(3))]);
      const read = [...first.files, ...second.files];
      expect(read.map((f) => f.rel)).toEqual(rels);
      for (const f of read) {
        expect(Buffer.compare(f.body, files[f.rel])).toBe(0);
        expect(f.etag).toBe(strongEtag(files[f.rel]));
        expect(f.stat).toBe(statKey(fs.statSync(path.join(dir.path, f.rel), { bigint: true })));
      }
    } finally {
      await reader.close();
    }
  });

  it('fills a released batch’s buffer again', async () => {
    const reader = new TreeReader(dir.path);
    try {
      const a = await reader.read(['modules/a/metadata.json', 'modules/a/1.0.0/patches/big.patch']);
      const kept = await reader.read(['modules/b/metadata.json']);
      a.release();
      a.release();
      // The bytes are the reader's again: the views here are empty.
      expect(a.files[0].body.length).toBe(0);
      const b = await reader.read(['modules/a/1.0.0/patches/big.patch', 'modules/a/metadata.json']);
      expect(Buffer.compare(b.files[0].body, files['modules/a/1.0.0/patches/big.patch'])).toBe(0);
      expect(b.files[1].body.toString()).toBe(files['modules/a/metadata.json'].toString());
      expect(kept.files[0].body).toEqual(files['modules/b/metadata.json']);
    } finally {
      await reader.close();
    }
  });

  it('fails a batch with a missing file as fs does, and reads the next one', async () => {
    const reader = new TreeReader(dir.path);
    try {
      await expect(reader.read(['modules/a/metadata.json', 'modules/gone/metadata.json'])).rejects.toMatchObject({
        code: 'ENOENT',
        message: expect.stringContaining('modules/gone/metadata.json'),
      });
      expect((await reader.read(['modules/b/metadata.json'])).files[0].body).toEqual(files['modules/b/metadata.json']);
    } finally {
      await reader.close();
    }
    await expect(reader.read(['modules/b/metadata.json'])).rejects.toThrow('closed');
  });

  it('lists directories on its thread as this one does, each sorted by code unit', async () => {
    fs.symlinkSync('metadata.json', path.join(dir.path, 'modules/b/link.json'));
    const reader = new TreeReader(dir.path);
    try {
      const lists = await reader.list(['modules/a', 'modules/b']);
      const here = ['modules/a', 'modules/b'].map((d) => {
        const out: string[] = [];
        listTree(fs, `${dir.path}/`, d, out);
        return out;
      });
      expect(lists).toEqual(here);
      expect(lists).toEqual([
        ['modules/a/1.0.0/MODULE.bazel', 'f', 'modules/a/1.0.0/patches/big.patch', 'f', 'modules/a/metadata.json', 'f'],
        ['modules/b/link.json', 'l', 'modules/b/metadata.json', 'f'],
      ]);
      await expect(reader.list(['modules/none'])).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await reader.close();
    }
  });

  it('refuses a path swapped for a link or a FIFO after the listing, without following or waiting on it', async () => {
    fs.symlinkSync('../a/metadata.json', path.join(dir.path, 'modules/b/swapped.json'));
    execFileSync('mkfifo', [path.join(dir.path, 'modules/b/fifo.json')]);
    const reader = new TreeReader(dir.path);
    try {
      await expect(reader.read(['modules/b/swapped.json'])).rejects.toMatchObject({ code: 'ELOOP' });
      await expect(reader.read(['modules/b/fifo.json'])).rejects.toMatchObject({
        message: expect.stringContaining('modules/b/fifo.json is no longer a regular file'),
      });
      expect((await reader.read(['modules/b/metadata.json'])).files[0].body).toEqual(files['modules/b/metadata.json']);
    } finally {
      await reader.close();
    }
  });
});
