import { tarball, type TarEntry as Entry } from '../../../test/support/archives.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LarderError } from '../../core/errors.js';
import { applyOverlay, applyPatches, unpackArchive, type SourceTree, type TreeLimits } from './source-tree.js';

const MiB = 1024 * 1024;
const limits: TreeLimits = { maxUnpackedSize: 10 * MiB, maxEntries: 1000 };

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      if (typeof code !== 'number') return reject(err);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    if (opts.input) child.stdin!.end(opts.input);
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'larder-source-tree-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes a zip with Python's zipfile: entries may be symlinks or carry any name. */
async function zipball(entries: Array<{ name: string; body?: string; mode?: number }>): Promise<Buffer> {
  const out = join(tmp, `z${Math.random().toString(36).slice(2)}.zip`);
  const script = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for e in json.load(sys.stdin):
        info = zipfile.ZipInfo(e['name'])
        info.create_system = 3
        info.external_attr = e.get('mode', 0o100644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, e.get('body', ''))
`;
  const r = await run('python3', ['-c', script, out], { input: Buffer.from(JSON.stringify(entries)) });
  expect(r.code, r.stderr).toBe(0);
  return readFile(out);
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<LarderError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => {
      throw new Error('expected a LarderError');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LarderError);
  return err as LarderError;
}

function text(tree: SourceTree): Record<string, string> {
  return Object.fromEntries([...tree].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.data.toString('utf8')]));
}

function treeOf(files: Record<string, string>): SourceTree {
  return new Map(Object.entries(files).map(([k, v]) => [k, { data: Buffer.from(v), executable: false }]));
}

describe('unpackArchive', () => {
  const entries: Entry[] = [
    { name: 'pkg-1.0/', type: 'directory' },
    { name: 'pkg-1.0/MODULE.bazel', body: 'module(name = "pkg")\n' },
    { name: 'pkg-1.0/./src//lib.c', body: 'int x;\n' },
    { name: 'pkg-1.0/tool.sh', body: '#!/bin/sh\n', mode: 0o755 },
  ];

  it('unpacks a .tar.gz and strips the prefix', async () => {
    const tree = await unpackArchive(gzipSync(await tarball(entries)), {
      fileName: 'https://x/pkg-1.0.tar.gz?raw=1',
      stripPrefix: 'pkg-1.0/',
      limits,
    });
    expect(text(tree)).toEqual({ 'MODULE.bazel': 'module(name = "pkg")\n', 'src/lib.c': 'int x;\n', 'tool.sh': '#!/bin/sh\n' });
    expect(tree.get('tool.sh')!.executable).toBe(true);
    expect(tree.get('src/lib.c')!.executable).toBe(false);
  });

  it('unpacks a plain tar chosen by archive_type, without a prefix', async () => {
    const tree = await unpackArchive(await tarball(entries), { fileName: 'download', archiveType: 'tar', limits });
    expect([...tree.keys()].sort()).toEqual(['pkg-1.0/MODULE.bazel', 'pkg-1.0/src/lib.c', 'pkg-1.0/tool.sh']);
  });

  it('unpacks a zip', async () => {
    const zip = await zipball([
      { name: 'pkg-1.0/', mode: 0o40755 },
      { name: 'pkg-1.0/a.txt', body: 'hello\n' },
      { name: 'pkg-1.0/bin/run', body: 'x', mode: 0o100755 },
    ]);
    const tree = await unpackArchive(zip, { fileName: 'pkg.zip', stripPrefix: 'pkg-1.0', limits });
    expect(text(tree)).toEqual({ 'a.txt': 'hello\n', 'bin/run': 'x' });
    expect(tree.get('bin/run')!.executable).toBe(true);
  });

  it('rejects an unknown archive type, naming the supported ones', async () => {
    const err = await failure(unpackArchive(Buffer.alloc(10), { fileName: 'pkg.rar', limits }));
    expect(err.code).toBe('METADATA_INVALID');
    expect(err.message).toMatch(/\.zip.*\.tar.*\.tar\.gz.*\.tgz.*\.tar\.xz.*\.tar\.zst.*\.tar\.bz2.*\.ar or \.deb/);
    expect((await failure(unpackArchive(Buffer.alloc(10), { fileName: 'x.zip', archiveType: 'rar', limits }))).code).toBe(
      'METADATA_INVALID',
    );
  });

  it('rejects entries outside strip_prefix', async () => {
    const archive = gzipSync(await tarball([...entries, { name: 'other/evil.c', body: 'x' }]));
    const err = await failure(unpackArchive(archive, { fileName: 'a.tgz', stripPrefix: 'pkg-1.0', limits }));
    expect(err.code).toBe('ARCHIVE_INVALID');
    expect(err.message).toMatch(/other\/evil\.c is not under strip_prefix "pkg-1.0"/);
    const sibling = gzipSync(await tarball([{ name: 'pkg-1.0x/a', body: 'x' }]));
    expect((await failure(unpackArchive(sibling, { fileName: 'a.tgz', stripPrefix: 'pkg-1.0', limits }))).code).toBe('ARCHIVE_INVALID');
    expect((await failure(unpackArchive(sibling, { fileName: 'a.tgz', stripPrefix: '../x', limits }))).code).toBe('METADATA_INVALID');
  });

  it('rejects path traversal and absolute paths in tar and zip', async () => {
    for (const name of ['pkg-1.0/../../etc/passwd', '/etc/passwd', 'pkg-1.0/a\\..\\b']) {
      const err = await failure(unpackArchive(await tarball([{ name, body: 'x' }]), { fileName: 'a.tar', limits }));
      expect(err.code).toBe('ARCHIVE_INVALID');
    }
    for (const name of ['../evil', '/abs', 'a/../../evil']) {
      const err = await failure(unpackArchive(await zipball([{ name, body: 'x' }]), { fileName: 'a.zip', limits }));
      expect(err.code).toBe('ARCHIVE_INVALID');
      expect(err.message).toContain(name);
    }
  });

  it('rejects links and devices', async () => {
    const symlink = await failure(
      unpackArchive(await tarball([{ name: 'a', type: 'symlink', linkname: '/etc/passwd' }]), { fileName: 'a.tar', limits }),
    );
    expect(symlink.message).toMatch(/link a -> \/etc\/passwd/);
    expect(
      (
        await failure(
          unpackArchive(
            await tarball([
              { name: 'f', body: 'x' },
              { name: 'h', type: 'link', linkname: 'f' },
            ]),
            { fileName: 'a.tar', limits },
          ),
        )
      ).code,
    ).toBe('ARCHIVE_INVALID');
    expect(
      (await failure(unpackArchive(await tarball([{ name: 'dev', type: 'character-device' }]), { fileName: 'a.tar', limits }))).message,
    ).toMatch(/character-device/);
    const zipLink = await failure(
      unpackArchive(await zipball([{ name: 'link', body: '/etc/passwd', mode: 0o120777 }]), { fileName: 'a.zip', limits }),
    );
    expect(zipLink.message).toMatch(/symlink link/);
  });

  it('stops a gzip bomb and too many entries', async () => {
    const small: TreeLimits = { maxUnpackedSize: MiB, maxEntries: 5 };
    // Header claims the real size: fails before inflating.
    const big = gzipSync(await tarball([{ name: 'big', body: Buffer.alloc(20 * MiB) }]));
    expect(big.length).toBeLessThan(100 * 1024);
    expect((await failure(unpackArchive(big, { fileName: 'b.tgz', limits: small }))).code).toBe('ARCHIVE_TOO_LARGE');
    // Zeros after the end of the archive: only the inflate budget sees them.
    const padded = gzipSync(Buffer.concat([await tarball([{ name: 'a', body: 'x' }]), Buffer.alloc(50 * MiB)]));
    expect((await failure(unpackArchive(padded, { fileName: 'b.tgz', limits: small }))).code).toBe('ARCHIVE_TOO_LARGE');
    const many = await tarball(Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, body: 'x' })));
    expect((await failure(unpackArchive(many, { fileName: 'm.tar', limits: small }))).message).toMatch(/more than 5 entries/);
    const zipBomb = await zipball([{ name: 'big', body: '\0'.repeat(3 * MiB) }]);
    expect((await failure(unpackArchive(zipBomb, { fileName: 'z.zip', limits: small }))).code).toBe('ARCHIVE_TOO_LARGE');
  });

  it('rejects corrupt archives', async () => {
    expect((await failure(unpackArchive(Buffer.from('not gzip'), { fileName: 'a.tar.gz', limits }))).message).toMatch(/not gzip/);
    const truncated = gzipSync(await tarball(entries)).subarray(0, 60);
    expect((await failure(unpackArchive(truncated, { fileName: 'a.tar.gz', limits }))).code).toBe('ARCHIVE_INVALID');
    expect((await failure(unpackArchive(Buffer.from('PK not really'), { fileName: 'a.zip', limits }))).code).toBe('ARCHIVE_INVALID');
  });
});

describe('applyOverlay', () => {
  it('adds and replaces files', () => {
    const tree = treeOf({ 'a.txt': 'old', 'src/x.c': 'x' });
    tree.get('a.txt')!.executable = true;
    applyOverlay(
      tree,
      new Map([
        ['a.txt', Buffer.from('new')],
        ['./BUILD.bazel', Buffer.from('b')],
        ['src/sub/y.c', Buffer.from('y')],
      ]),
    );
    expect(text(tree)).toEqual({ 'a.txt': 'new', 'BUILD.bazel': 'b', 'src/sub/y.c': 'y', 'src/x.c': 'x' });
    expect(tree.get('a.txt')!.executable).toBe(false);
  });

  it('rejects paths that leave the tree, before changing anything', () => {
    for (const path of ['../x', '/etc/passwd', 'a/../../x', '', 'a\\b']) {
      const tree = treeOf({ 'a.txt': 'old' });
      const err = (() => {
        try {
          applyOverlay(
            tree,
            new Map([
              ['a.txt', Buffer.from('new')],
              [path, Buffer.from('x')],
            ]),
          );
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(LarderError);
      expect((err as LarderError).code).toBe('ARCHIVE_INVALID');
      expect(text(tree)).toEqual({ 'a.txt': 'old' });
    }
  });
});

describe('applyPatches (checked against GNU patch)', () => {
  const before = {
    'src/main.c': Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`).join(''),
    'README.md': '# Title\n\nSome text.\n',
    'old.txt': 'to be removed\nsecond line\n',
    'keep.txt': 'unchanged\n',
  };
  const after = {
    'src/main.c': before['src/main.c'].replace('line 3\n', 'line three\n').replace('line 30\n', 'line 30\nline 30b\n'),
    'README.md': '# Title\n\nSome better text.\n',
    'new/dir/created.txt': 'brand new\n',
    'keep.txt': 'unchanged\n',
  };

  async function writeTree(dir: string, files: Record<string, string>) {
    for (const [path, body] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), body);
    }
  }

  async function readTree(dir: string, prefix = ''): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) Object.assign(out, await readTree(dir, rel));
      else out[rel] = await readFile(join(dir, rel), 'utf8');
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
  }

  /** `diff -ruN a b` in a fresh directory (UTC, so created/deleted files get epoch timestamps). */
  async function makePatch(a: Record<string, string>, b: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmp, 'diff-'));
    await writeTree(join(dir, 'a'), a);
    await writeTree(join(dir, 'b'), b);
    const r = await run('diff', ['-ruN', 'a', 'b'], { cwd: dir, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    expect(r.code, r.stderr).toBe(1);
    return r.stdout;
  }

  /** The oracle: GNU patch on a copy of `files`; null when it fails. */
  async function gnuPatch(files: Record<string, string>, patch: string, strip = 1): Promise<Record<string, string> | null> {
    const dir = await mkdtemp(join(tmp, 'patch-'));
    await writeTree(join(dir, 'tree'), files);
    await writeFile(join(dir, 'p.patch'), patch);
    const r = await run(
      'patch',
      [`-p${strip}`, '--force', '--fuzz', '0', '--ignore-whitespace', '--no-backup-if-mismatch', '-i', '../p.patch'],
      { cwd: join(dir, 'tree') },
    );
    return r.code === 0 ? readTree(join(dir, 'tree')) : null;
  }

  it('modifies, creates and deletes files exactly like patch -p1', async () => {
    const patch = await makePatch(before, after);
    expect(patch).toMatch(/^\+\+\+ b\/old\.txt\t1970-01-01/m);
    const tree = treeOf(before);
    tree.get('src/main.c')!.executable = true;
    applyPatches(tree, [{ name: 'fix.patch', text: patch }], 1);
    expect(text(tree)).toEqual(await gnuPatch(before, patch));
    expect(text(tree)).toEqual(after);
    expect(tree.get('src/main.c')!.executable).toBe(true);
  });

  it('handles /dev/null headers (git diff style) and patches in order', async () => {
    const create =
      'diff --git a/gen.txt b/gen.txt\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/gen.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n';
    const edit = await makePatch({ 'gen.txt': 'one\ntwo\n' }, { 'gen.txt': 'one\n2\n' });
    const remove = '--- a/keep.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-unchanged\n';
    const tree = treeOf(before);
    applyPatches(
      tree,
      [
        { name: '1.patch', text: create },
        { name: '2.patch', text: edit },
        { name: '3.patch', text: remove },
      ],
      1,
    );
    const oracle = await gnuPatch(before, create + edit + remove);
    expect(text(tree)).toEqual(oracle);
    expect(text(tree)['gen.txt']).toBe('one\n2\n');
    expect(tree.has('keep.txt')).toBe(false);
  });

  it('ignores whitespace differences in context like --ignore-whitespace', async () => {
    const patch = await makePatch({ 'f.c': 'int a;\nint  b;\nint c;\n' }, { 'f.c': 'int a;\nint  b;\nint C;\n' });
    const drifted = { 'f.c': 'int\ta;  \nint b;\nint c;\n' };
    const tree = treeOf(drifted);
    applyPatches(tree, [{ name: 'ws.patch', text: patch }], 1);
    expect(text(tree)).toEqual(await gnuPatch(drifted, patch));
    expect(text(tree)['f.c']).toBe('int\ta;  \nint b;\nint C;\n');
  });

  it('applies at an offset but with no fuzz, and names the failing hunk', async () => {
    const patch = await makePatch(before, after);
    const shifted = { ...before, 'src/main.c': before['src/main.c'].replace('line 10\n', 'line 10\nline 10b\nline 10c\n') };
    const tree = treeOf(shifted);
    applyPatches(tree, [{ name: 'fix.patch', text: patch }], 1);
    expect(text(tree)).toEqual(await gnuPatch(shifted, patch));
    expect(text(tree)['src/main.c']).toMatch(/line 10c\n.*line 30\nline 30b\n/s);

    const changed = { ...before, 'src/main.c': before['src/main.c'].replace('line 28\n', 'line twenty-eight\n') };
    expect(await gnuPatch(changed, patch)).toBeNull();
    const err = await failure(() => applyPatches(treeOf(changed), [{ name: 'fix.patch', text: patch }], 1));
    expect(err.code).toBe('ARCHIVE_INVALID');
    const lines = patch.split('\n');
    const hunkLine = lines.findIndex((l) => l.startsWith('@@ -28,')) + 1;
    expect(err.message).toContain(`patch fix.patch: hunk #2 for src/main.c (line ${hunkLine}: ${lines[hunkLine - 1]}) does not apply`);
  });

  it('keeps hunks with short context at the start or end of the file, as GNU patch does', async () => {
    const patch = await makePatch(before, after);
    const headed = { ...before, 'src/main.c': 'inserted\n' + before['src/main.c'] };
    expect(await gnuPatch(headed, patch)).toBeNull();
    expect((await failure(() => applyPatches(treeOf(headed), [{ name: 'p', text: patch }], 1))).message).toMatch(
      /hunk #1 for src\/main\.c/,
    );

    const append = await makePatch({ f: 'a\nb\nc\nd\n' }, { f: 'a\nb\nc\nd\ne\n' });
    const tailed = { f: 'a\nb\nc\nd\nz\n' };
    expect(await gnuPatch(tailed, append)).toBeNull();
    expect((await failure(() => applyPatches(treeOf(tailed), [{ name: 'p', text: append }], 1))).code).toBe('ARCHIVE_INVALID');
    const moved = { f: 'x\na\nb\nc\nd\n' };
    const tree = treeOf(moved);
    applyPatches(tree, [{ name: 'p', text: append }], 1);
    expect(text(tree)).toEqual(await gnuPatch(moved, append));
  });

  it('rejects missing targets, existing created files, garbage and escaping names', async () => {
    const patch = await makePatch(before, after);
    expect((await failure(() => applyPatches(treeOf(before), [{ name: 'p', text: patch }], 0))).message).toMatch(/not in the source tree/);
    expect(
      (await failure(() => applyPatches(treeOf({ ...before, 'new/dir/created.txt': 'x' }), [{ name: 'p', text: patch }], 1))).message,
    ).toMatch(/creates new\/dir\/created\.txt, which already exists/);
    expect((await failure(() => applyPatches(treeOf(before), [{ name: 'p', text: 'hello\n' }], 1))).message).toMatch(
      /no hunks|not a valid/,
    );
    const escape = '--- /dev/null\n+++ b/../../evil\n@@ -0,0 +1 @@\n+x\n';
    expect((await failure(() => applyPatches(treeOf(before), [{ name: 'p', text: escape }], 1))).message).toMatch(
      /outside the source tree/,
    );
    const partialDelete = '--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-to be removed\n';
    expect((await failure(() => applyPatches(treeOf(before), [{ name: 'p', text: partialDelete }], 1))).message).toMatch(
      /deletes old\.txt/,
    );
  });
});
