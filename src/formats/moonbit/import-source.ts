/**
 * What `larder import moonbit` reads: the index files (`user/**.index`, `yanked.json`) of a git
 * repository at a branch (read from git objects with ls-tree + cat-file, never a work tree, so what
 * is committed is what is imported), of a plain directory, or of a moonbit-registry-tools store
 * (`registry.toml`, `data/index`, `data/packages/<user>/<name>/<version>.zip`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../../core/errors.js';
import { gitOutput, listGitTree, readGitBlobs } from '../../core/git-objects.js';
import { formatSize } from '../../core/units.js';
import type { Registry } from '../../registry/registry.js';
import { processScratchDir } from '../../storage/staging.js';
import { cloneChecked } from '../../upstream/git-clone.js';
import { moduleOfIndexPath, YANKED_PATH } from './names.js';
import { readToolsConfig, type ToolsConfig } from './registry-tools.js';

/** An index file to import, by its path in the index. */
export interface ImportFile {
  path: string;
  body: Buffer;
}

/** Everything an import reads, before anything is written. */
export interface ImportSource {
  /** How the source was read, for the summary: `git <commit>`, `directory`, `moonbit-registry-tools store`. */
  describe: string;
  files: ImportFile[];
  /** Paths that are not index files (README, stats.json, MANIFEST.sha256, …): left out. */
  ignored: string[];
  /** Zips of a registry-tools store by `<module>/<version>` (absolute paths). */
  zips: Map<string, string>;
  /** A registry-tools store's configuration, when the source is one. */
  tools?: ToolsConfig;
}

/**
 * moonbit-registry-tools writes the modules published to it as `<user>/<name>` (no `user/`, no
 * `.index`) beside the clone it mirrors; `sources/` holds its other sources' clones.
 */
function legacyPath(p: string): string | null {
  const m = /^([A-Za-z0-9_-]+)\/([^/.]+)$/.exec(p);
  if (!m || m[1] === 'user' || m[1] === 'sources') return null;
  return moduleOfIndexPath(`user/${p}.index`) ? `user/${p}.index` : null;
}

/** Index files are the module files under `user/` and the root `yanked.json` (and, in a store, its own `<user>/<name>` files). */
function isIndexFile(p: string, legacy: boolean): boolean {
  return p === YANKED_PATH || moduleOfIndexPath(p) !== null || (legacy && legacyPath(p) !== null);
}

/**
 * Moves a store's `<user>/<name>` files to the path moon reads (`user/<user>/<name>.index`), bytes
 * unchanged, when a line names that module; anything else there is not an index file.
 */
function placeLegacy(index: { files: ImportFile[]; ignored: string[] }): void {
  const have = new Set(index.files.map((f) => f.path));
  index.files = index.files.flatMap((f) => {
    const target = moduleOfIndexPath(f.path) || f.path === YANKED_PATH ? null : legacyPath(f.path);
    if (!target) return [f];
    const names = f.body
      .toString('utf8')
      .split('\n')
      .some((l) => {
        try {
          return (JSON.parse(l) as { name?: unknown } | null)?.name === f.path;
        } catch {
          return false;
        }
      });
    if (!names || have.has(target)) {
      index.ignored.push(f.path);
      return [];
    }
    have.add(target);
    return [{ path: target, body: f.body }];
  });
}

/** The git directory of `dir` when it is the top of a work tree or a bare repository, else null. */
function gitDirOf(dir: string): string | null {
  const dotGit = path.join(dir, '.git');
  if (fs.existsSync(dotGit)) return dotGit; // a directory, or a file naming one (worktrees): git follows both
  const bare = ['HEAD', 'objects', 'refs'].every((n) => fs.existsSync(path.join(dir, n)));
  return bare ? dir : null;
}

/** The index files of a git repository at `branch` (default: its HEAD), from its objects. */
async function readGitIndex(
  gitDir: string,
  branch: string | undefined,
  maxSize: number,
  legacy = false,
): Promise<Omit<ImportSource, 'zips'>> {
  const rev = branch ?? 'HEAD';
  if (!/^[A-Za-z0-9._/-]+$/.test(rev) || rev.startsWith('-'))
    fail('METADATA_INVALID', `--branch ${JSON.stringify(rev)} is not a branch name`);
  let commit: string;
  try {
    commit = (await gitOutput(gitDir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).toString().trim();
  } catch {
    const heads = await gitOutput(gitDir, ['for-each-ref', '--format=%(refname:short)', 'refs/heads', 'refs/remotes']).catch(() =>
      Buffer.alloc(0),
    );
    const names = heads.toString().trim().split('\n').filter(Boolean);
    fail(
      'NOT_FOUND',
      branch
        ? `the index repository has no branch ${branch}${names.length ? `; it has ${names.join(', ')}` : ''}`
        : 'the index repository has no commit at HEAD; name a branch with --branch',
    );
  }
  const wanted: Array<{ id: string; path: string }> = [];
  const ignored: string[] = [];
  let total = 0;
  for (const { mode, id, size, path: file } of await listGitTree(gitDir, commit)) {
    if (!isIndexFile(file, legacy)) {
      ignored.push(file);
      continue;
    }
    if (mode !== '100644' && mode !== '100755')
      fail('ARCHIVE_INVALID', `${file} in the index repository is not a plain file (git mode ${mode}); an index holds plain files`);
    if ((total += size ?? 0) > maxSize)
      fail('ARCHIVE_TOO_LARGE', `the index files add up to more than ${formatSize(maxSize)}, this registry's [limits] max_unpacked_size`);
    wanted.push({ id, path: file });
  }
  const blobs = await readGitBlobs(
    gitDir,
    wanted.map((w) => w.id),
  );
  return {
    describe: `git commit ${commit.slice(0, 12)}${branch ? ` of ${branch}` : ''}`,
    files: wanted.map((w) => ({ path: w.path, body: blobs.get(w.id)! })),
    ignored,
  };
}

/** The index files of a plain directory (symbolic links refused: an index holds plain files). */
function readDirIndex(root: string, maxSize: number, legacy = false): Omit<ImportSource, 'zips'> {
  const files: ImportFile[] = [];
  const ignored: string[] = [];
  let total = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const abs = path.join(dir, e.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (e.isDirectory()) {
        if (rel === 'user' || rel.startsWith('user/') || (legacy && !rel.includes('/') && legacyPath(`${rel}/x`))) walk(abs);
        else ignored.push(`${rel}/`);
      } else if (!isIndexFile(rel, legacy)) ignored.push(rel);
      else if (!e.isFile()) fail('ARCHIVE_INVALID', `${rel} is not a plain file (a symbolic link?); an index holds plain files`);
      else {
        const body = fs.readFileSync(abs);
        if ((total += body.length) > maxSize)
          fail(
            'ARCHIVE_TOO_LARGE',
            `the index files add up to more than ${formatSize(maxSize)}, this registry's [limits] max_unpacked_size`,
          );
        files.push({ path: rel, body });
      }
    }
  };
  walk(root);
  return { describe: 'directory', files, ignored };
}

/** The zips under a store's packages directory, by `<module>/<version>`. */
function storeZips(packages: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(packages)) return out;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile() && e.name.endsWith('.zip'))
        out.set(path.relative(packages, abs).split(path.sep).join('/').slice(0, -'.zip'.length), abs);
    }
  };
  walk(packages);
  return out;
}

/** An index directory: read from git when it is a repository, as files otherwise. */
async function readIndexAt(dir: string, branch: string | undefined, maxSize: number, legacy = false): Promise<Omit<ImportSource, 'zips'>> {
  const gitDir = gitDirOf(dir);
  if (gitDir) return readGitIndex(gitDir, branch, maxSize, legacy);
  if (branch) fail('METADATA_INVALID', `${dir} is not a git repository; --branch applies only to one`);
  return readDirIndex(dir, maxSize, legacy);
}

/**
 * Reads an import source: an http(s) git URL (cloned under [outbound]'s rules), a local git work
 * tree or bare repository, a directory of index files, or a moonbit-registry-tools store.
 */
export async function readImportSource(registry: Registry, source: string, opts: { branch?: string } = {}): Promise<ImportSource> {
  const maxSize = registry.config.limits.maxUnpackedSize;
  if (/^https?:\/\//i.test(source)) {
    const work = processScratchDir('moonbitimport');
    try {
      const dir = await cloneChecked(registry.outbound, source, work, { maxSize: registry.config.limits.maxArchiveSize * 10 });
      return { ...(await readGitIndex(dir, opts.branch, maxSize)), zips: new Map() };
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  if (!fs.existsSync(source) || !fs.statSync(source).isDirectory())
    fail('NOT_FOUND', `${source} is neither a directory nor an http(s) git URL`);
  const root = path.resolve(source);
  if (fs.existsSync(path.join(root, 'registry.toml'))) {
    const tools = readToolsConfig(root);
    if (!fs.existsSync(tools.indexDir))
      fail('NOT_FOUND', `the moonbit-registry-tools store at ${root} has no index directory ${tools.indexDir}`);
    const index = await readIndexAt(tools.indexDir, opts.branch, maxSize, true);
    placeLegacy(index);
    return { ...index, describe: `moonbit-registry-tools store (${index.describe})`, zips: storeZips(tools.packagesDir), tools };
  }
  const index = await readIndexAt(root, opts.branch, maxSize);
  if (!index.files.some((f) => f.path !== YANKED_PATH))
    fail('NOT_FOUND', `${source} holds no index files (user/<user>/<module>.index): is it a MoonBit registry index?`);
  return { ...index, zips: new Map() };
}
