/**
 * Reading a git repository's objects directly (`git ls-tree`, `git cat-file --batch`), never a
 * checkout: what is committed is what is read, symlinks stay links, nothing resolves outside the
 * repository. Git runs with no user or system config. Used wherever Larder takes files from git.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { fail } from './errors.js';
import { formatSize } from './units.js';

const run = promisify(execFile);

/** The environment git runs in: no user or system config (insteadOf could rewrite URLs, hooks could run). */
function gitEnv(gitDir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: gitDir, LANG: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
}

/** Runs git on a repository; its stdout as a Buffer. Rejects when git fails. */
export async function gitOutput(gitDir: string, args: string[], maxBuffer = 256 * 2 ** 20): Promise<Buffer> {
  return (await run('git', ['--git-dir', gitDir, ...args], { env: gitEnv(gitDir), encoding: 'buffer', maxBuffer })).stdout;
}

/** One entry of `git ls-tree -r -l`: a blob (file, executable, link) or a commit (a submodule). */
export interface GitTreeEntry {
  mode: string;
  type: string;
  id: string;
  /** Size in bytes for blobs; null for commits. */
  size: number | null;
  path: string;
}

/** Every entry of a tree (recursively), paths as UTF-8. */
export async function listGitTree(gitDir: string, treeish: string): Promise<GitTreeEntry[]> {
  const listing = await gitOutput(gitDir, ['ls-tree', '-r', '-z', '-l', '--full-tree', treeish]);
  const entries: GitTreeEntry[] = [];
  for (const rec of listing.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, id, size] = rec.slice(0, tab).split(/ +/);
    entries.push({ mode: mode!, type: type!, id: id!, size: size === '-' ? null : Number(size), path: rec.slice(tab + 1) });
  }
  return entries;
}

/**
 * The contents of blobs by id through one `git cat-file --batch`; refuses (ARCHIVE_TOO_LARGE) past
 * `maxSize` bytes in all, and (ARCHIVE_INVALID) an object the repository does not have.
 */
export async function readGitBlobs(gitDir: string, ids: string[], maxSize = Infinity): Promise<Map<string, Buffer>> {
  const unique = [...new Set(ids)];
  const blobs = new Map<string, Buffer>();
  if (unique.length === 0) return blobs;
  const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { env: gitEnv(gitDir), stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.on('error', () => {});
  child.stdin.end(unique.map((id) => `${id}\n`).join(''));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of child.stdout) {
    size += (chunk as Buffer).length;
    // Contents plus one header line per blob.
    if (size > maxSize + unique.length * 128) {
      child.kill('SIGKILL');
      fail('ARCHIVE_TOO_LARGE', `the tree unpacks to more than ${formatSize(maxSize)}, the limit of this registry`);
    }
    chunks.push(chunk as Buffer);
  }
  const out = Buffer.concat(chunks);
  let at = 0;
  for (const id of unique) {
    const eol = out.indexOf(0x0a, at);
    const [got, type, len] = out.subarray(at, eol).toString().split(' ');
    if (eol < 0 || got !== id || type !== 'blob')
      fail('ARCHIVE_INVALID', `the repository is missing the object ${id}; it may be a partial clone`);
    blobs.set(id, out.subarray(eol + 1, eol + 1 + Number(len)));
    at = eol + 1 + Number(len) + 1;
  }
  return blobs;
}

/** How a bounded git process ended: its exit code (-1 when it could not start), why it was killed, the start of its stderr. */
export interface BoundedGitRun {
  code: number;
  killed: string | null;
  stderr: string;
}

/**
 * Runs git in its own process group (so the helpers it starts, git-remote-https and index-pack, die
 * with it) and kills the group past `timeoutMs`, or when `watch` calls its `kill` (a size bound).
 */
export function runGitBounded(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; timeoutMs: number; watch?: (kill: (why: string) => void) => () => void },
): Promise<BoundedGitRun> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { env: opts.env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    let killed: string | null = null;
    const kill = (why: string) => {
      killed ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
    const unwatch = opts.watch?.(kill);
    const done = (code: number) => {
      clearTimeout(timer);
      unwatch?.();
      resolve({ code, killed, stderr });
    };
    child.on('error', () => done(-1));
    child.on('exit', (code) => done(code ?? -1));
  });
}
