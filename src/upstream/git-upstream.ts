/**
 * A proxy whose upstream index is a git repository (MoonBit's `{upstream}/git/index`): the upstream
 * branch is fetched shallow into a cache with the real `git`, and each new upstream tree becomes one
 * commit of the proxy's own history (its changes recorded in the database), so every node serves the
 * same linear, fast-forward-only history and the files byte for byte as the upstream has them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LarderError } from '../core/errors.js';
import { listGitTree, readGitBlobs, runGitBounded } from '../core/git-objects.js';
import { recordGitCommit, type GitFileMode, type GitHistoryRef } from '../registry/git-history/record.js';
import { diffFiles, historyTip, lockHistory, type HistoryFile } from '../registry/git-history/state.js';
import type { Registry } from '../registry/registry.js';
import { inTransaction } from '../registry/tx.js';
import { trustedCas } from './outbound.js';
import { indexProxyDoc, type ProxySearchTarget } from './proxy-search.js';

const run = promisify(execFile);

/** Where the upstream is and which branch to follow. */
export interface UpstreamGit {
  url: string;
  branch: string;
}

/** What a sync did: the upstream commit it read and how many files changed in the proxy's history. */
export interface UpstreamGitSync {
  upstreamCommit: string;
  changed: number;
}

/** The cache of an upstream's fetched objects: `DATA/git-upstream/{repo id}/{history}.git` (deletable). */
export function upstreamCacheDir(dataDir: string, ref: GitHistoryRef): string {
  return path.join(dataDir, 'git-upstream', String(ref.repoId), `${ref.history}.git`);
}

/** The marker a sync commit's message carries, naming the upstream commit it copies. */
const MARKER = 'Upstream-Commit: ';

/** The upstream commit the history's tip copies, read from its message, or null. */
export function upstreamCommitOf(message: string): string | null {
  const line = message.split('\n').find((l) => l.startsWith(MARKER));
  const id = line?.slice(MARKER.length).trim();
  return id && /^[0-9a-f]{40}$/.test(id) ? id : null;
}

/**
 * Fetches the upstream branch (depth 1) and records its tree as the next commit of `ref` when it
 * differs from the tip. Operator-configured upstreams are trusted: git follows HTTPS_PROXY/NO_PROXY
 * and [outbound] ca_file; time is bounded by [outbound] timeout. Throws UPSTREAM_FAILED/UPSTREAM_TIMEOUT.
 * With `search`, the changed files' search entries are kept in step in the same transaction.
 */
export async function syncUpstreamGit(
  registry: Registry,
  ref: GitHistoryRef,
  upstream: UpstreamGit,
  search?: ProxySearchTarget | null,
): Promise<UpstreamGitSync> {
  const dir = upstreamCacheDir(registry.config.data, ref);
  const before = await historyTip(registry.db, ref);
  const commit = await sharedFetch(dir, () => fetchBranch(registry, dir, upstream));
  const tip = await historyTip(registry.db, ref);
  if (upstreamCommitOf(tip.message) === commit) return { upstreamCommit: commit, changed: 0 };
  const files = await readTree(dir, commit);
  let changed = 0;
  await inTransaction(registry, async (uow) => {
    await lockHistory(uow.trx, registry.dialect, ref);
    // Another node synced while we fetched: its upstream commit may be newer than ours (it fetched later), and
    // recording ours after it would step the history back. Its sync stands; the next one (after the TTL) moves on.
    const now = await historyTip(registry.db, ref, { trx: uow.trx });
    if (upstreamCommitOf(now.message) === commit || now.head !== before.head) return;
    const changes = diffFiles(now.files, files);
    changed = changes.length;
    await recordGitCommit(uow.trx, ref, {
      message: `Sync with ${redact(upstream.url)}\n\n${MARKER}${commit}\n`,
      changes: changes.map((c) => ({ path: c.path, mode: c.mode, data: c.data })),
    });
    if (!search) return;
    // A link is no document (the proxy answers 404 for it), so it indexes as a removal.
    const bodyOf = (f: { mode: string; data: Uint8Array | null } | undefined) => (f && f.mode !== '120000' ? f.data : null);
    const at = Date.now();
    for (const c of changes) {
      await indexProxyDoc(uow.trx, registry.dialect, search, c.path, bodyOf(c), bodyOf(now.files.get(c.path)), at);
    }
  });
  return { upstreamCommit: commit, changed };
}

const fetching = new Map<string, Promise<string>>();

/**
 * One `git fetch` per cache directory at a time in this process: syncs that arrive while one runs
 * take its answer (git refuses a second fetch into a repository whose `shallow.lock` is held).
 */
function sharedFetch(dir: string, fetch: () => Promise<string>): Promise<string> {
  const running = fetching.get(dir);
  if (running) return running;
  const work = fetch().finally(() => fetching.delete(dir));
  fetching.set(dir, work);
  return work;
}

/** A URL without credentials or query, for messages and commit text. */
function redact(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** Runs `git fetch --depth 1` of the branch into the cache and returns the fetched commit id. */
async function fetchBranch(registry: Registry, dir: string, upstream: UpstreamGit): Promise<string> {
  if (!fs.existsSync(path.join(dir, 'HEAD'))) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    await run('git', ['init', '-q', '--bare', dir]);
  }
  const outbound = registry.config.outbound;
  const config: string[] = ['-c', 'credential.helper=', '-c', 'core.askPass=', '-c', 'core.hooksPath=/dev/null'];
  const cas = trustedCas(outbound.caFile);
  if (cas) {
    const bundle = path.join(dir, 'larder-ca.pem');
    fs.writeFileSync(bundle, cas.join('\n'));
    config.push('-c', `http.sslCAInfo=${bundle}`);
  }
  const ref = `refs/larder/upstream/${upstream.branch}`;
  const args = [
    ...config,
    '--git-dir',
    dir,
    'fetch',
    '--quiet',
    '--depth',
    '1',
    '--no-tags',
    '--',
    upstream.url,
    `+refs/heads/${upstream.branch}:${ref}`,
  ];
  // The environment keeps proxy variables (a trusted upstream goes through HTTPS_PROXY) but no user config.
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LANG: 'C',
  };
  const what = `the upstream git index ${redact(upstream.url)}`;
  const outcome = await runGitBounded(args, { env, timeoutMs: outbound.timeoutMs });
  if (outcome.killed === 'timeout')
    throw new LarderError(
      'UPSTREAM_TIMEOUT',
      `${what} did not answer within [outbound] timeout (${Math.round(outbound.timeoutMs / 1000)} s)`,
    );
  if (outcome.code !== 0) {
    const missing = /couldn't find remote ref/i.test(outcome.stderr);
    throw new LarderError(
      'UPSTREAM_FAILED',
      missing
        ? `${what} has no branch ${upstream.branch}`
        : `could not fetch ${what}: ${firstLine(outcome.stderr) || 'git failed'} (check the repository's upstream URL and that git can reach it)`,
    );
  }
  return (await run('git', ['--git-dir', dir, 'rev-parse', '--verify', `${ref}^{commit}`])).stdout.trim();
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.replace(/^(fatal|error): /, '').trim())
      .find((l) => l) ?? ''
  );
}

/** Every regular file and link of a commit's tree, with its bytes (one `cat-file --batch` for all). */
async function readTree(dir: string, commit: string): Promise<Map<string, HistoryFile>> {
  // Submodules (commits) cannot be served from a history of files; the client never reads them.
  const entries = (await listGitTree(dir, commit)).filter(
    (e) => e.type === 'blob' && (e.mode === '100644' || e.mode === '100755' || e.mode === '120000'),
  );
  const bodies = await readGitBlobs(
    dir,
    entries.map((e) => e.id),
  );
  const files = new Map<string, HistoryFile>();
  for (const e of entries) files.set(e.path, { mode: e.mode as GitFileMode, blob: e.id, data: bodies.get(e.id)! });
  return files;
}
