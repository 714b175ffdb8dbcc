/**
 * `git_repository` sources (protocols/bazel.md §5.3.2; Bazel ≥ 7.1): source.json names a remote and a commit instead
 * of an archive and its hash. The commit id is the content hash, so Larder asks for a full commit id (a tag can move),
 * fetches that commit with the real git under the outbound rules (src/upstream/git-clone.ts), and checks what Bazel
 * would build: the tree at strip_prefix, the patches applied, its MODULE.bazel equal to the published one. Files are
 * read from git objects, never a checkout. The source.json is stored as sent.
 */
import fs from 'node:fs';
import { unpackedLimit } from '../../core/config.js';
import { fail } from '../../core/errors.js';
import { gitOutput, listGitTree, readGitBlobs } from '../../core/git-objects.js';
import { parseSri } from '../../core/sri.js';
import { formatSize } from '../../core/units.js';
import type { Registry } from '../../registry/registry.js';
import type { Repo } from '../../registry/repos.js';
import { processScratchDir } from '../../storage/staging.js';
import { fetchCommitChecked } from '../../upstream/git-clone.js';
import { sameModuleFile } from './module-file.js';
import { checkSourceUrl } from './policy.js';
import { applyPatches, filesToKeep, type SourceTree } from './source-tree.js';

/** The fields of a git_repository source.json Bazel reads (IndexRegistry's GitRepoSourceJson). */
export interface GitSourceJson {
  type: 'git_repository';
  remote: string;
  commit: string;
  strip_prefix?: string;
  patch_strip?: number;
  patches?: Record<string, string>;
  tag?: string;
  shallow_since?: string;
  init_submodules?: boolean;
  verbose?: boolean;
  [key: string]: unknown;
}

/** Checks a git_repository source.json's fields; refuses what Bazel would refuse, ignore, or could not reproduce. */
export function parseGitSource(s: Record<string, unknown>): GitSourceJson {
  const remote = s.remote;
  if (typeof remote !== 'string' || !URL.canParse(remote))
    fail('METADATA_INVALID', 'a git_repository source.json needs "remote", the https URL of the git repository');
  const scheme = new URL(remote).protocol;
  if (scheme !== 'https:' && scheme !== 'http:')
    fail(
      'URL_NOT_ALLOWED',
      `git_repository remote ${remote} is refused: Larder fetches git over https (http with [outbound] git_allow_http) only, not ${scheme.replace(/:$/, '')}; use the repository's https URL`,
    );
  if (s.commit === undefined && typeof s.tag === 'string')
    fail(
      'METADATA_INVALID',
      `a git_repository source with only a tag (${JSON.stringify(s.tag)}) is refused: a tag can be moved to another commit, and the registry's files must stay what they were checked as; give "commit", the full 40-hex commit id the tag points at`,
    );
  if (typeof s.commit !== 'string' || !/^[0-9a-f]{40}$/.test(s.commit))
    fail(
      'METADATA_INVALID',
      'a git_repository source.json needs "commit", a full 40-hex lower-case commit id (an abbreviated id can become ambiguous)',
    );
  if (s.tag !== undefined)
    fail(
      'METADATA_INVALID',
      'a git_repository source.json takes "commit" without "tag": Bazel refuses both together ("exactly one of commit, tag, or branch")',
    );
  if (s.overlay !== undefined)
    fail(
      'METADATA_INVALID',
      'a git_repository source cannot have "overlay": Bazel reads overlays only for archive sources and would build the tree without them; use patches',
    );
  if (s.strip_prefix !== undefined && typeof s.strip_prefix !== 'string')
    fail('METADATA_INVALID', 'source.json "strip_prefix" must be a string');
  if (s.patch_strip !== undefined && !(Number.isInteger(s.patch_strip) && (s.patch_strip as number) >= 0))
    fail('METADATA_INVALID', 'source.json "patch_strip" must be a whole number ≥ 0');
  const patches = s.patches;
  if (
    patches !== undefined &&
    (typeof patches !== 'object' ||
      patches === null ||
      Array.isArray(patches) ||
      !Object.values(patches).every((x) => typeof x === 'string'))
  )
    fail('METADATA_INVALID', 'source.json "patches" must map file names to SRI values');
  for (const integrity of Object.values((patches ?? {}) as Record<string, string>)) parseSri(integrity);
  return s as GitSourceJson;
}

/** strip_prefix as a git path inside the commit; no `..`, no backslashes. */
function prefixPath(stripPrefix: string | undefined): string {
  const parts = (stripPrefix ?? '').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || (stripPrefix ?? '').includes('\\') || (stripPrefix ?? '').includes('\0'))
    fail(
      'METADATA_INVALID',
      `strip_prefix ${JSON.stringify(stripPrefix)} must not contain ".." or backslashes; name a directory of the repository`,
    );
  return parts.join('/');
}

const FILE_MODES = new Set(['100644', '100755']);

/**
 * Verifies a git_repository source for `pub` against the repository's policy and the commit's contents: fetches the
 * commit (bounded by [outbound] timeout and limits.max_archive_size), builds the tree at strip_prefix (within the
 * bazel_source unpacked limit and max_archive_entries), applies the patches and compares MODULE.bazel.
 */
export async function verifyGitSource(
  registry: Registry,
  repo: Repo,
  source: GitSourceJson,
  pub: { moduleFile: Buffer; patches: Map<string, Buffer> },
  repository: string[],
): Promise<void> {
  checkSourceUrl(repo, source.remote, 'git_repository remote', repository, 'git');
  const prefix = prefixPath(source.strip_prefix);
  const { limits } = registry.config;
  const maxUnpacked = unpackedLimit(registry.config, 'bazelSource');
  const strip = source.patch_strip ?? 0;
  const patches = [...pub.patches].map(([name, data]) => ({ name, text: data.toString('utf8') }));
  const keep = filesToKeep(patches, strip);
  const work = processScratchDir('bazelgit');
  try {
    const dir = await fetchCommitChecked(registry.outbound, source.remote, source.commit, work, { maxSize: limits.maxArchiveSize });
    let treeish = source.commit;
    if (prefix !== '') {
      // Resolved in git's tree objects: a symlink is a blob there, never followed.
      const type = (await gitOutput(dir, ['cat-file', '-t', `${source.commit}:${prefix}`]).catch(() => null))?.toString().trim();
      if (type !== 'tree')
        fail(
          'METADATA_INVALID',
          type
            ? `strip_prefix ${prefix} is not a directory in ${source.remote} at ${source.commit} (it is a file or a symlink)`
            : `strip_prefix ${prefix} is not in ${source.remote} at ${source.commit}; check strip_prefix`,
        );
      treeish = `${source.commit}:${prefix}`;
    }
    const entries = await listGitTree(dir, treeish);
    if (entries.length > limits.maxArchiveEntries)
      fail('ARCHIVE_TOO_LARGE', `the source tree has more than ${limits.maxArchiveEntries} entries, the limit of this registry`);
    const total = entries.reduce((n, e) => n + (e.size ?? 0), 0);
    if (total > maxUnpacked)
      fail('ARCHIVE_TOO_LARGE', `the source tree at ${source.commit} is larger than this registry's ${formatSize(maxUnpacked)} limit`);
    const tree: SourceTree = new Map();
    const wanted: Array<{ path: string; id: string; executable: boolean }> = [];
    for (const e of entries) {
      const kept = keep.has(e.path);
      if (kept && !FILE_MODES.has(e.mode)) {
        const what = e.mode === '120000' ? 'a symlink' : e.mode === '160000' ? 'a git submodule' : `a git object of mode ${e.mode}`;
        fail(
          'ARCHIVE_INVALID',
          `${e.path} in ${source.remote} at ${source.commit} is ${what}; ${e.path === 'MODULE.bazel' ? 'the module file must be a regular file' : 'a patch cannot change it'}`,
        );
      }
      if (!FILE_MODES.has(e.mode)) continue;
      if (kept) wanted.push({ path: e.path, id: e.id, executable: e.mode === '100755' });
      else tree.set(e.path, { data: Buffer.alloc(0), executable: e.mode === '100755', skipped: true });
    }
    const blobs = await readGitBlobs(
      dir,
      wanted.map((w) => w.id),
      maxUnpacked,
    );
    for (const w of wanted) tree.set(w.path, { data: blobs.get(w.id)!, executable: w.executable });
    applyPatches(tree, patches, strip);
    const inTree = tree.get('MODULE.bazel');
    if (inTree && !sameModuleFile(inTree.data.toString('utf8'), pub.moduleFile.toString('utf8')))
      fail(
        'MANIFEST_MISMATCH',
        `the MODULE.bazel of ${source.remote} at ${source.commit}${prefix ? ` under ${prefix}` : ''} (after patches) differs from the one published; publish that commit's MODULE.bazel, or add a patch that makes them equal (the BCR names it module_dot_bazel.patch)`,
      );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
