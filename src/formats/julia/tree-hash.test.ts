import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, cp, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { tarball } from '../../../test/support/archives.js';
import { LarderError } from '../../core/errors.js';
import { treeFileData } from './spool.js';
import { EMPTY_TREE, blobHash, readDirTree, tarTreeHashes, treeHash, type FileTree } from './tree-hash.js';

const HOLYLAB = fileURLToPath(new URL('../../../../shared/fixtures/julia/HolyLabRegistry', import.meta.url));
const HOLYLAB_TREE = 'd1f7853f0fd9b90082873f28025d02356a9989c4';

function run(cmd: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr.toString()}`));
      else resolve(stdout);
    });
    // A command that exits without reading its input (most git calls) would otherwise fail with EPIPE.
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
  });
}
const git = (dir: string, ...args: string[]) =>
  run('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'core.autocrlf=false', '-C', dir, ...args]);

/** `git init && git add -A && git write-tree` in `dir`. */
async function gitWriteTree(dir: string): Promise<string> {
  await git(dir, 'init', '-q');
  await git(dir, 'add', '-A');
  return (await git(dir, 'write-tree')).toString().trim();
}

/** `git archive --format=tar <tree>` with export attributes and autocrlf disabled. */
async function gitArchive(dir: string, tree: string): Promise<Buffer> {
  await writeFile(join(dir, '.git', 'info', 'attributes'), '* -export-ignore -export-subst\n');
  return git(dir, 'archive', '--format=tar', tree);
}

async function writeTree(dir: string, tree: FileTree): Promise<void> {
  for (const [path, file] of tree) {
    const { kind } = file;
    const data = await treeFileData(file);
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    if (kind === 'symlink') await symlink(data, abs);
    else {
      await writeFile(abs, data);
      await chmod(abs, kind === 'executable' ? 0o755 : 0o644);
    }
  }
}

const file = (data: Buffer | string, kind: 'file' | 'executable' | 'symlink' = 'file') => ({ kind, data: Buffer.from(data) });

/** A tree with every ordering and type trap of the spec, plus `n` random files. */
function generatedTree(n: number): FileTree {
  const tree: FileTree = new Map([
    ['a-b', file(randomBytes(100))],
    ['a.b', file('dot\r\nline\n')],
    ['a/x', file(randomBytes(10))],
    ['a0', file('')],
    ['a/b/c/d/deep.txt', file(randomBytes(3000))],
    ['bin/run.sh', file('#!/bin/sh\necho hi\n', 'executable')],
    ['empty', file('')],
    ['ünïcødé.txt', file('utf-8 name')],
    ['日本/語.md', file('nested utf-8')],
    ['e\u0301.txt', file('combining accent')],
    ['links/rel', file('../a.b', 'symlink')],
    ['links/dangling', file('nowhere/at/all', 'symlink')],
    ['links/dir', file('../a', 'symlink')],
    ['links/long', file('t/'.repeat(60) + 'target', 'symlink')],
    [`long/${'p'.repeat(60)}/${'q'.repeat(70)}.txt`, file('long path via ustar prefix')],
    [`long/${'z'.repeat(120)}`, file('long component via pax', 'executable')],
  ]);
  const alphabet = ['a', 'b', '-', '.', '0', 'é', '_'];
  for (let i = 0; i < n; i++) {
    const depth = randomInt(1, 4);
    const parts = Array.from({ length: depth }, () =>
      Array.from({ length: randomInt(1, 4) }, () => alphabet[randomInt(alphabet.length)]).join(''),
    );
    const path = ['r', ...parts].join('/');
    if (parts.some((p) => p === '.' || p === '..') || [...tree.keys()].some((k) => k.startsWith(`${path}/`) || path.startsWith(`${k}/`)))
      continue;
    tree.set(path, file(randomBytes(randomInt(0, 5000)), randomInt(4) === 0 ? 'executable' : 'file'));
  }
  return tree;
}

let tmp: string;
let seq = 0;
const fresh = async () => {
  const d = join(tmp, `t${seq++}`);
  await mkdir(d);
  return d;
};
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'larder-tree-hash-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('treeHash', () => {
  it('knows the constants', () => {
    expect(treeHash(new Map())).toBe(EMPTY_TREE);
    expect(blobHash(Buffer.alloc(0))).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });

  it('equals git write-tree on generated trees (and readDirTree reads them back)', async () => {
    for (let round = 0; round < 4; round++) {
      const tree = generatedTree(40);
      const dir = await fresh();
      await writeTree(dir, tree);
      await mkdir(join(dir, 'emptydir', 'nested'), { recursive: true }); // git ignores empty directories
      const expected = await gitWriteTree(dir);
      expect(treeHash(tree)).toBe(expected);
      const read = await readDirTree(dir); // skips the repository's .git and the empty directories
      expect(new Set(read.keys())).toEqual(new Set(tree.keys()));
      expect(treeHash(read)).toBe(expected);
    }
  });

  it('readDirTree records symlinks that point outside as git symlinks (mode 120000, the link text), never following them', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'Project.toml'), 'name = "X"\n');
    await symlink('/', join(dir, 'root'));
    await symlink('/etc/passwd', join(dir, 'passwd'));
    await symlink('../../..', join(dir, 'up'));
    const read = await readDirTree(dir);
    expect([...read.keys()].sort()).toEqual(['Project.toml', 'passwd', 'root', 'up']);
    expect(read.get('root')).toEqual(file('/', 'symlink'));
    expect(read.get('passwd')).toEqual(file('/etc/passwd', 'symlink'));
    expect(read.get('up')).toEqual(file('../../..', 'symlink'));
    expect(treeHash(read)).toBe(await gitWriteTree(dir));
  });

  it('sorts a-b, a.b, a/, a0 bytewise with the trailing slash rule', async () => {
    const tree: FileTree = new Map([
      ['a0', file('0')],
      ['a/x', file('x')],
      ['a.b', file('.')],
      ['a-b', file('-')],
    ]);
    const dir = await fresh();
    await writeTree(dir, tree);
    expect(treeHash(tree)).toBe(await gitWriteTree(dir));
  });

  it('skips entries named .git at any level', async () => {
    const tree = generatedTree(5);
    const base = treeHash(tree);
    tree.set('.git/config', file('[core]'));
    tree.set('sub/.git', file('gitdir: ../.git/modules/sub'));
    tree.set('sub/dir/.git/HEAD', file('ref: refs/heads/main'));
    expect(treeHash(tree)).toBe(base);
  });

  it('rejects unclean paths and file/directory clashes', () => {
    for (const bad of ['/abs', '../up', 'a//b', './a', 'a/.', '']) {
      expect(() => treeHash(new Map([[bad, file('x')]]))).toThrow(LarderError);
    }
    expect(() =>
      treeHash(
        new Map([
          ['a', file('x')],
          ['a/b', file('y')],
        ]),
      ),
    ).toThrow(/both a file a/);
  });

  it('hashes the HolyLabRegistry fixture to its known tree, as git does', async () => {
    const tree = await readDirTree(HOLYLAB);
    expect(tree.has('Z/ZWarpedArrays/.Package.toml.swp')).toBe(true);
    expect(treeHash(tree)).toBe(HOLYLAB_TREE);
    const dir = await fresh();
    await cp(HOLYLAB, dir, { recursive: true });
    await run('chmod', ['-R', 'u+w', dir]);
    expect(await gitWriteTree(dir)).toBe(HOLYLAB_TREE);
  });
});

describe('tarTreeHashes', () => {
  const hashesOf = (tar: Buffer) => tarTreeHashes(Readable.from([tar]));

  it('hashes git archive output to the git tree (long paths, symlinks, exec bits, UTF-8)', async () => {
    const dir = await fresh();
    await writeTree(dir, generatedTree(30));
    const tree = await gitWriteTree(dir);
    expect(await hashesOf(await gitArchive(dir, tree))).toEqual({ keepEmpty: tree, skipEmpty: tree });
  });

  it('hashes the HolyLabRegistry git archive to d1f7853f…', async () => {
    const dir = await fresh();
    await cp(HOLYLAB, dir, { recursive: true });
    await run('chmod', ['-R', 'u+w', dir]);
    const tree = await gitWriteTree(dir);
    expect(await hashesOf(await gitArchive(dir, tree))).toEqual({ keepEmpty: HOLYLAB_TREE, skipEmpty: HOLYLAB_TREE });
  });

  it('counts an empty directory only in keepEmpty; GNU long names, pax and hardlinks via GNU tar', async () => {
    const dir = await fresh();
    await writeTree(dir, generatedTree(20));
    await link(join(dir, 'a-b'), join(dir, 'hardlinked')); // the second occurrence becomes a hardlink entry
    const tree = await gitWriteTree(dir);
    await mkdir(join(dir, 'emptydir'));
    for (const format of ['gnu', 'pax']) {
      const hashes = await hashesOf(await run('tar', ['--format', format, '--exclude=.git', '-cf', '-', '-C', dir, '.']));
      expect(hashes.skipEmpty).toBe(tree);
      expect(hashes.keepEmpty).not.toBe(hashes.skipEmpty);
    }
    const gnu = await run('tar', ['--format', 'gnu', '--exclude=.git', '-cf', '-', '-C', dir, '.']);
    expect(gnu.includes(Buffer.from('././@LongLink'))).toBe(true);
    expect(gnu.includes(Buffer.from('hardlinked\0'))).toBe(true);
  });

  it('replaces an earlier entry for the same path, and keeps explicit empty directories', async () => {
    const tar = await tarball([
      { name: 'x', body: 'old' },
      { name: 'x', body: 'new' },
      { name: 'd/', type: 'directory' },
    ]);
    const hashes = await hashesOf(tar);
    expect(hashes.skipEmpty).toBe(treeHash(new Map([['x', file('new')]])));
    const dir = await fresh();
    await git(dir, 'init', '-q');
    const listing = `040000 tree ${EMPTY_TREE}\td\n100644 blob ${blobHash(Buffer.from('new'))}\tx\n`;
    const withEmpty = (await run('git', ['-C', dir, 'mktree', '--missing'], listing)).toString().trim();
    expect(hashes.keepEmpty).toBe(withEmpty);
  });

  it('rejects .., absolute paths, devices, dangling hardlinks, paths through symlinks and garbage', async () => {
    const cases = [
      [{ name: '../evil', body: 'x' }],
      [{ name: 'a/../../evil', body: 'x' }],
      [{ name: '/etc/passwd', body: 'x' }],
      [{ name: 'dev', type: 'character-device' as const, devmajor: 1, devminor: 3 }],
      [{ name: 'fifo', type: 'fifo' as const }],
      [{ name: 'h', type: 'link' as const, linkname: 'missing' }],
      [
        { name: 'l', type: 'symlink' as const, linkname: '/tmp' },
        { name: 'l/x', body: 'x' },
      ],
    ];
    for (const entries of cases) {
      await expect(hashesOf(await tarball(entries)), JSON.stringify(entries)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
    }
    await expect(hashesOf(Buffer.alloc(1024, 7))).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
    const truncated = (await tarball([{ name: 'f', body: 'x'.repeat(2000) }])).subarray(0, 1024);
    await expect(hashesOf(truncated)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
  });
});
