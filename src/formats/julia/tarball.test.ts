import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import { tarball, tarGz, type TarEntry } from '../../../test/support/archives.js';
import { disposeTree, treeFileData } from './spool.js';
import { canonicalTarball, treeFromTarball } from './tarball.js';
import { readDirTree, tarTreeHashes, treeHash, type FileTree } from './tree-hash.js';

const HOLYLAB = fileURLToPath(new URL('../../../../shared/fixtures/julia/HolyLabRegistry', import.meta.url));
const HOLYLAB_TREE = 'd1f7853f0fd9b90082873f28025d02356a9989c4';
const limits = { maxUnpackedSize: 10 * 1024 * 1024, maxEntries: 1000 };

function run(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}
const git = (dir: string, ...args: string[]) =>
  run('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'core.autocrlf=false', '-C', dir, ...args]);

const file = (data: Buffer | string, kind: 'file' | 'executable' | 'symlink' = 'file') => ({ kind, data: Buffer.from(data) });

function sampleTree(): FileTree {
  return new Map([
    ['a0', file('')],
    ['a/x', file(randomBytes(700))],
    ['a.b', file('dot')],
    ['a-b', file(randomBytes(1))],
    ['src/Pkg.jl', file('module Pkg end\n')],
    ['bin/tool', file('#!/bin/sh\n', 'executable')],
    ['links/rel', file('../a.b', 'symlink')],
    ['links/dangling', file('no/such/file', 'symlink')],
    ['links/long', file('x/'.repeat(60) + 'y', 'symlink')],
    ['ünïcødé/日本.txt', file('utf-8')],
    [`deep/${'p'.repeat(60)}/${'q'.repeat(70)}.txt`, file('ustar prefix')],
    [`deep/${'z'.repeat(130)}`, file('pax path', 'executable')],
    ['d1/d2/d3/d4/f', file(randomBytes(5000))],
  ]);
}

async function headers(gz: Buffer): Promise<Header[]> {
  const out: Header[] = [];
  for await (const entry of Readable.from([gunzipSync(gz)]).pipe(tar.extract())) {
    out.push(entry.header);
    entry.resume();
  }
  return out;
}

let tmp: string;
let seq = 0;
const fresh = async () => {
  const d = join(tmp, `t${seq++}`);
  await mkdir(d);
  return d;
};
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'larder-tarball-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('canonicalTarball', () => {
  it('round-trips: its tar hash (empty dirs kept) equals treeHash', async () => {
    const tree = sampleTree();
    const gz = await canonicalTarball(tree);
    expect([...gz.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    const { keepEmpty, skipEmpty } = await tarTreeHashes(Readable.from([gunzipSync(gz)]));
    expect(keepEmpty).toBe(treeHash(tree));
    expect(skipEmpty).toBe(keepEmpty);
  });

  it('extracts with GNU tar to a directory whose git tree equals treeHash', async () => {
    const tree = sampleTree();
    const dir = await fresh();
    await writeFile(join(tmp, 'x.tgz'), await canonicalTarball(tree));
    await run('tar', ['-xzf', join(tmp, 'x.tgz'), '-C', dir]);
    await git(dir, 'init', '-q');
    await git(dir, 'add', '-A');
    expect((await git(dir, 'write-tree')).toString().trim()).toBe(treeHash(tree));
  });

  it('writes canonical headers: sorted depth-first, dirs first, no ./, zero owners and times', async () => {
    const gz = await canonicalTarball(sampleTree());
    const list = await headers(gz);
    const names = list.map((h) => h.name);
    expect(names.slice(0, 6)).toEqual(['a/', 'a/x', 'a-b', 'a.b', 'a0', 'bin/']);
    for (const h of list) {
      expect(h.name.startsWith('./') || h.name === '.' || h.name.startsWith('/')).toBe(false);
      expect([h.uid, h.gid, h.mtime.getTime(), h.uname, h.gname]).toEqual([0, 0, 0, '', '']);
      if (h.type === 'directory') {
        expect(h.mode).toBe(0o755);
        expect(names.some((n) => n !== h.name && n.startsWith(h.name))).toBe(true); // no empty dirs
      }
      if (h.type === 'file') expect(h.mode).toBe(h.name === 'bin/tool' || h.name.endsWith('zzz') ? 0o755 : 0o644);
    }
    await writeFile(join(tmp, 'list.tgz'), gz);
    const listed = (await run('tar', ['-tzf', join(tmp, 'list.tgz')])).toString().trim().split('\n');
    expect(listed).toEqual(names);
  });

  it('gives byte-identical output for identical trees, regardless of insertion order', async () => {
    const tree = sampleTree();
    const reversed: FileTree = new Map([...tree].reverse());
    const first = await canonicalTarball(tree);
    expect((await canonicalTarball(tree)).equals(first)).toBe(true);
    expect((await canonicalTarball(reversed)).equals(first)).toBe(true);
  });

  it('leaves out .git entries', async () => {
    const tree = sampleTree();
    tree.set('.git/config', file('[core]'));
    const names = (await headers(await canonicalTarball(tree))).map((h) => h.name);
    expect(names.some((n) => n.includes('.git'))).toBe(false);
  });

  it('packs the HolyLabRegistry fixture to a tarball hashing to d1f7853f…', async () => {
    const gz = await canonicalTarball(await readDirTree(HOLYLAB));
    const { keepEmpty } = await tarTreeHashes(Readable.from([gunzipSync(gz)]));
    expect(keepEmpty).toBe(HOLYLAB_TREE);
    const names = (await headers(gz)).map((h) => h.name);
    expect(names).toContain('Registry.toml');
  });
});

describe('treeFromTarball', () => {
  it('reads back what canonicalTarball wrote, gzipped or not', async () => {
    const tree = sampleTree();
    const gz = await canonicalTarball(tree);
    for (const archive of [gz, gunzipSync(gz)]) {
      const read = await treeFromTarball(archive, limits);
      expect(new Map([...read].sort())).toEqual(new Map([...tree].sort()));
    }
  });

  it('drops ./ prefixes, empty directories and a top-level .git (GNU tar of a checkout)', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'Project.toml'), 'name = "X"\n');
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src', 'X.jl'), 'module X end\n');
    await mkdir(join(dir, 'empty', 'nested'), { recursive: true });
    await git(dir, 'init', '-q');
    await git(dir, 'add', '-A');
    const expected = (await git(dir, 'write-tree')).toString().trim();
    const tgz = await run('tar', ['-czf', '-', '-C', dir, '.']);
    const tree = await treeFromTarball(tgz, limits);
    expect([...tree.keys()].sort()).toEqual(['Project.toml', 'src/X.jl']);
    expect(treeHash(tree)).toBe(expected);
  });

  const hostile: Array<[string, TarEntry[], string]> = [
    ['..', [{ name: '../evil', body: 'x' }], 'ARCHIVE_INVALID'],
    ['inner ..', [{ name: 'a/../../evil', body: 'x' }], 'ARCHIVE_INVALID'],
    ['absolute', [{ name: '/etc/passwd', body: 'x' }], 'ARCHIVE_INVALID'],
    ['char device', [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], 'ARCHIVE_INVALID'],
    ['block device', [{ name: 'sda', type: 'block-device' }], 'ARCHIVE_INVALID'],
    ['fifo', [{ name: 'pipe', type: 'fifo' }], 'ARCHIVE_INVALID'],
    [
      'hardlink',
      [
        { name: 'f', body: 'x' },
        { name: 'g', type: 'link', linkname: 'f' },
      ],
      'ARCHIVE_INVALID',
    ],
    ['nested .git (gitlink)', [{ name: 'deps/sub/.git', body: 'gitdir: ../../.git/modules/sub' }], 'ARCHIVE_INVALID'],
    [
      'path through a symlink',
      [
        { name: 'l', type: 'symlink', linkname: '/etc' },
        { name: 'l/passwd', body: 'x' },
      ],
      'ARCHIVE_INVALID',
    ],
    [
      'file and directory clash',
      [
        { name: 'a', body: 'x' },
        { name: 'a/b', body: 'y' },
      ],
      'ARCHIVE_INVALID',
    ],
    [
      'duplicate file',
      [
        { name: 'a', body: 'x' },
        { name: 'a', body: 'y' },
      ],
      'ARCHIVE_INVALID',
    ],
    ['too many entries', Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, body: '' })), 'ARCHIVE_TOO_LARGE'],
    ['too large', [{ name: 'big', body: Buffer.alloc(2000) }], 'ARCHIVE_TOO_LARGE'],
  ];
  for (const [what, entries, code] of hostile) {
    it(`rejects ${what}`, async () => {
      const small = { maxUnpackedSize: 1000, maxEntries: 10 };
      await expect(treeFromTarball(await tarGz(entries), small)).rejects.toMatchObject({ code, message: expect.any(String) });
      await expect(treeFromTarball(await tarball(entries), small)).rejects.toMatchObject({ code });
    });
  }

  it('stops a gzip bomb at the limit', async () => {
    const bomb = gzipSync(await tarball([{ name: 'zeros', body: Buffer.alloc(64 * 1024 * 1024) }]), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await expect(treeFromTarball(bomb, limits)).rejects.toMatchObject({ code: 'ARCHIVE_TOO_LARGE' });
  });

  it('rejects zip, garbage and truncated archives with ARCHIVE_INVALID', async () => {
    const tgz = await tarGz([{ name: 'f', body: randomBytes(5000) }]);
    for (const bad of [
      Buffer.from('PK\x03\x04rest', 'latin1'),
      Buffer.from('hello world'),
      tgz.subarray(0, tgz.length - 20),
      (await tarball([{ name: 'f', body: 'x'.repeat(3000) }])).subarray(0, 1024),
    ]) {
      await expect(treeFromTarball(bad, limits)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
    }
    await expect(treeFromTarball(Buffer.from('PK\x03\x04rest', 'latin1'), limits)).rejects.toThrow(/zip/);
  });
});

describe('large trees (spooled to disk)', () => {
  it('hash and pack exactly as the same tree held in memory, and leave no spool files once disposed', async () => {
    const big = randomBytes(3 * 1024 * 1024); // over the in-memory size of one file
    const inMemory: FileTree = new Map([...sampleTree(), ['data/big.bin', file(big, 'executable')]]);
    const gz = await canonicalTarball(inMemory);
    // The streamed gzip is the one-shot gzip of the canonical tar: the stored bytes did not change.
    expect(gzipSync(gunzipSync(gz), { level: 9 }).equals(gz)).toBe(true);
    const before = new Set((await readdir(tmpdir())).filter((n) => n.startsWith('larder-tree-')));
    const read = await treeFromTarball(gz, limits);
    const spooled = read.get('data/big.bin')!;
    expect('spooled' in spooled && spooled.kind).toBe('executable');
    expect((await treeFileData(spooled)).equals(big)).toBe(true);
    expect(treeHash(read)).toBe(treeHash(inMemory));
    expect((await canonicalTarball(read)).equals(gz)).toBe(true);
    await disposeTree(read);
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('larder-tree-') && !before.has(n))).toEqual([]);
  });

  it('removes what it spooled when the archive is refused', async () => {
    const before = new Set((await readdir(tmpdir())).filter((n) => n.startsWith('larder-tree-')));
    const entries: TarEntry[] = [
      { name: 'big.bin', body: randomBytes(2 * 1024 * 1024) },
      { name: '../evil', body: 'x' },
    ];
    await expect(treeFromTarball(await tarGz(entries), limits)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('larder-tree-') && !before.has(n))).toEqual([]);
  });
});
