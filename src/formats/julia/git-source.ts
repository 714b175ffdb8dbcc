/**
 * Registering a Julia package version from a git URL and revision (protocols/julia.md §10): the
 * package tree is read from git's objects (`git ls-tree` + `git cat-file`), never from a checkout,
 * so a symlink in the repository is recorded as a symlink (mode 120000, its text) and nothing read
 * can resolve outside the clone. `subdir` must name a directory of that tree.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { fail } from '../../core/errors.js';
import { readGitBlobs } from '../../core/git-objects.js';
import { formatSize } from '../../core/units.js';
import type { Registry } from '../../registry/registry.js';
import { cloneChecked } from '../../upstream/git-clone.js';
import { pathParts, type FileTree } from './tree-hash.js';
import { processScratchDir } from '../../storage/staging.js';

const run = promisify(execFile);
const KINDS = { '100644': 'file', '100755': 'executable', '120000': 'symlink' } as const;

/** Runs git on the bare clone with no user or system config; stdout as a Buffer, null when git fails. */
async function git(dir: string, args: string[], maxBuffer = 16 * 2 ** 20): Promise<Buffer | null> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  try {
    return (await run('git', ['--git-dir', dir, ...args], { env, encoding: 'buffer', maxBuffer })).stdout;
  } catch {
    return null;
  }
}

/**
 * A package tree from a git URL and revision the server may reach under [outbound] (`subdir` for
 * monorepos), within the registry's archive size, unpacked size and entry limits.
 */
export async function treeFromGit(registry: Registry, url: string, rev: string, subdir?: string): Promise<FileTree> {
  if (!/^[A-Za-z0-9._/-]+$/.test(rev) || rev.startsWith('-'))
    fail('METADATA_INVALID', `rev ${JSON.stringify(rev)} is not a commit, tag or branch name`);
  const sub = subdir?.replace(/^\/+|\/+$/g, '') ?? '';
  if (sub !== '') {
    try {
      pathParts(sub);
    } catch {
      fail(
        'METADATA_INVALID',
        `subdir ${JSON.stringify(subdir)} must be a relative path inside the repository (no "..", ".", empty components or NUL)`,
      );
    }
  }
  const { limits } = registry.config;
  const work = processScratchDir('gitclone');
  try {
    const dir = await cloneChecked(registry.outbound, url, work, { maxSize: limits.maxArchiveSize });
    const commit = (await git(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]))?.toString().trim();
    if (!commit) fail('METADATA_INVALID', `${url} has no revision ${rev}`);
    let tree = commit;
    if (sub !== '') {
      // Resolved in git's tree objects: a symlink is a blob there, never followed out of the repository.
      const type = (await git(dir, ['cat-file', '-t', `${commit}:${sub}`]))?.toString().trim();
      if (type !== 'tree')
        fail(
          'METADATA_INVALID',
          type
            ? `subdir ${sub} is not a directory in ${url} at ${rev} (it is a symlink or a file)`
            : `subdir ${sub} is not in ${url} at ${rev}`,
        );
      tree = `${commit}:${sub}`;
    }
    const listing = await git(dir, ['ls-tree', '-r', '-z', '-l', '--full-tree', tree], 256 * 2 ** 20);
    if (!listing) fail('ARCHIVE_INVALID', `could not read the tree of ${url} at ${rev}`);
    const entries: Array<{ mode: string; id: string; path: string }> = [];
    let total = 0;
    for (const record of listing.toString('utf8').split('\0')) {
      if (record === '') continue;
      const m = /^(\d+) (\w+) ([0-9a-f]+) +(-|\d+)\t([\s\S]+)$/.exec(record);
      if (!m) fail('ARCHIVE_INVALID', `could not read the tree of ${url} at ${rev}`);
      const [, mode, , id, size, file] = m as unknown as [string, string, string, string, string, string];
      if (mode === '160000') fail('ARCHIVE_INVALID', 'the package has git submodules; their contents cannot be reproduced from a tarball');
      if (!(mode in KINDS)) fail('ARCHIVE_INVALID', `${file} in ${url} has the git mode ${mode}, which a package tree cannot hold`);
      if (entries.length >= limits.maxArchiveEntries)
        fail('ARCHIVE_TOO_LARGE', `the package tree has more than ${limits.maxArchiveEntries} entries, the limit of this registry`);
      if ((total += Number(size)) > limits.maxUnpackedSize)
        fail(
          'ARCHIVE_TOO_LARGE',
          `the package tree unpacks to more than ${formatSize(limits.maxUnpackedSize)}, the limit of this registry`,
        );
      entries.push({ mode, id, path: file });
    }
    const blobs = await readGitBlobs(
      dir,
      entries.map((e) => e.id),
      limits.maxUnpackedSize,
    );
    const files: FileTree = new Map();
    for (const e of entries) files.set(e.path, { kind: KINDS[e.mode as keyof typeof KINDS], data: blobs.get(e.id)! });
    return files;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
