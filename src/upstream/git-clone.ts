/**
 * Cloning a git repository a request named, under the same rules as the outbound HTTP client: https
 * only (http when [outbound] git_allow_http), the host's addresses checked and the connection pinned
 * to them (no DNS rebinding), no redirects, no other protocols, no credential prompts, no user or
 * system git config, bounded time and size. Failures never echo what the far side said.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { fail } from '../core/errors.js';
import { runGitBounded } from '../core/git-objects.js';
import { formatSize } from '../core/units.js';
import { ALLOW_HINT, trustedCas, type OutboundClient } from './outbound.js';

/** Total size of the files under `dir` (what a clone has written so far). */
async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (st?.isDirectory()) total += await diskUsage(p);
    else if (st) total += st.size;
  }
  return total;
}

/** Checks a git URL's scheme and host and returns the `-c` options that pin git to the checked addresses. */
async function checkedGitUrl(outbound: OutboundClient, url: string): Promise<{ href: string; config: string[] }> {
  const u = URL.canParse(url) ? new URL(url) : null;
  const allowHttp = outbound.config.gitAllowHttp;
  const schemes = allowHttp ? 'https:// or http://' : 'https://';
  if (!u) fail('METADATA_INVALID', `git must be a ${schemes} URL of the repository, got ${JSON.stringify(url)}`);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && allowHttp)) {
    const hint =
      u.protocol === 'http:'
        ? 'use https, or an operator can allow plain http in larder.toml: [outbound] git_allow_http = true'
        : `use the repository's ${schemes} URL`;
    fail(
      'URL_NOT_ALLOWED',
      `git URL ${url} is refused: Larder clones over ${allowHttp ? 'https and http' : 'https'} only, not ${u.protocol.replace(/:$/, '')}; ${hint}`,
    );
  }
  const resolved = await outbound.rules.resolve(u.hostname);
  if ('refused' in resolved) {
    const is = isIP(u.hostname.replace(/^\[(.*)\]$/, '$1')) ? 'is' : 'resolves to';
    fail(
      'URL_NOT_ALLOWED',
      `git URL ${url} is refused: its host ${is} ${resolved.refused.rule}. Larder clones only from public addresses; ${ALLOW_HINT}`,
    );
  }
  if ('error' in resolved) fail('ARCHIVE_INVALID', `could not clone ${url}: its host name does not resolve`);
  const config: string[] = [];
  if (!isIP(u.hostname.replace(/^\[(.*)\]$/, '$1'))) {
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    const addrs = resolved.addresses.map((a) => (a.family === 6 ? `[${a.address}]` : a.address)).join(',');
    config.push('-c', `http.curloptResolve=${u.hostname}:${port}:${addrs}`);
  }
  return { href: u.href, config };
}

export interface CloneOptions {
  /** Refuse (ARCHIVE_TOO_LARGE) once the clone holds more than this many bytes. */
  maxSize: number;
}

/** The `-c` options, environment and checked URL every git run against a URL from a request uses (see the file comment). */
async function checkedGit(
  outbound: OutboundClient,
  url: string,
  workDir: string,
): Promise<{ href: string; options: string[]; env: NodeJS.ProcessEnv }> {
  const { href, config } = await checkedGitUrl(outbound, url);
  const home = path.join(workDir, 'home');
  mkdirSync(home);
  const cas = trustedCas(outbound.config.caFile);
  if (cas) {
    // curl's CA file replaces its default bundle: give it the public roots and the internal CA together.
    writeFileSync(path.join(workDir, 'ca.pem'), cas.join('\n'));
    config.push('-c', `http.sslCAInfo=${path.join(workDir, 'ca.pem')}`);
  }
  const options = [
    '-c',
    'protocol.allow=never',
    '-c',
    'protocol.https.allow=always',
    ...(outbound.config.gitAllowHttp ? ['-c', 'protocol.http.allow=always'] : []),
    '-c',
    'http.followRedirects=false',
    '-c',
    'credential.helper=',
    '-c',
    'core.askPass=',
    '-c',
    'http.proxy=',
    '-c',
    'core.hooksPath=/dev/null',
    ...config,
  ];
  // A minimal environment: no proxies, no askpass, no ~/.gitconfig or /etc/gitconfig (url.*.insteadOf could rewrite the URL).
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'false',
    SSH_ASKPASS: 'false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROTOCOL_FROM_USER: '0',
  };
  return { href, options, env };
}

/** Runs git with a time bound and kills it once `dest` holds more than `maxSize` bytes. */
function runWatched(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, dest: string, maxSize: number) {
  return runGitBounded(args, {
    env,
    timeoutMs,
    watch: (kill) => {
      let polling = false;
      const poll = setInterval(() => {
        if (polling) return;
        polling = true;
        void diskUsage(dest).then((n) => {
          polling = false;
          if (n > maxSize) kill('too-large');
        });
      }, 200);
      return () => clearInterval(poll);
    },
  });
}

/**
 * Bare-clones `url` into `workDir`/repo.git (workDir must be a fresh private directory) and returns
 * that path; kills git past [outbound] timeout or `maxSize`.
 */
export async function cloneChecked(outbound: OutboundClient, url: string, workDir: string, opts: CloneOptions): Promise<string> {
  const { href, options, env } = await checkedGit(outbound, url, workDir);
  const dest = path.join(workDir, 'repo.git');
  const args = [...options, 'clone', '--bare', '--quiet', '--no-local', '--', href, dest];
  const run = await runWatched(args, env, outbound.config.timeoutMs, dest, opts.maxSize);
  const outcome = run.killed ?? (run.code === 0 ? 'ok' : 'failed');
  if (outcome === 'ok' && (await diskUsage(dest)) > opts.maxSize)
    fail('ARCHIVE_TOO_LARGE', `the repository at ${url} is larger than this registry's ${formatSize(opts.maxSize)} limit`);
  if (outcome === 'too-large')
    fail('ARCHIVE_TOO_LARGE', `the repository at ${url} is larger than this registry's ${formatSize(opts.maxSize)} limit`);
  if (outcome === 'timeout')
    fail(
      'ARCHIVE_INVALID',
      `could not clone ${url}: it took longer than [outbound] timeout (${Math.round(outbound.config.timeoutMs / 1000)} s)`,
    );
  if (outcome === 'failed') {
    fail(
      'ARCHIVE_INVALID',
      `could not clone ${url}: the server did not answer as a git repository, the connection failed, it redirects (use the final URL), it needs credentials, or its TLS certificate is not trusted (an internal CA goes in [outbound] ca_file)`,
    );
  }
  return dest;
}

/**
 * Fetches one commit of `url` (by its full id) into a fresh bare repository `workDir`/repo.git and returns that
 * path, under cloneChecked's rules. Asks for that commit alone (depth 1; servers speaking protocol v2, as git's own
 * and the big hosts do, give any commit they have); when the server refuses that, fetches its branches and tags and
 * looks for the commit there. One [outbound] timeout and `maxSize` bound the whole. Refuses (METADATA_INVALID) a
 * commit the repository does not have.
 */
export async function fetchCommitChecked(
  outbound: OutboundClient,
  url: string,
  commit: string,
  workDir: string,
  opts: CloneOptions,
): Promise<string> {
  if (!/^[0-9a-f]{40}$/.test(commit)) fail('METADATA_INVALID', `commit ${JSON.stringify(commit)} is not a full 40-hex commit id`);
  const { href, options, env } = await checkedGit(outbound, url, workDir);
  const dest = path.join(workDir, 'repo.git');
  const deadline = Date.now() + outbound.config.timeoutMs;
  const init = await runGitBounded(['init', '--bare', '--quiet', dest], { env, timeoutMs: 10_000 });
  if (init.code !== 0) fail('INTERNAL', 'could not create a scratch git repository');
  const fetch = (flags: string[], refspecs: string[]) =>
    runWatched(
      [...options, '--git-dir', dest, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', ...flags, '--', href, ...refspecs],
      env,
      Math.max(1, deadline - Date.now()),
      dest,
      opts.maxSize,
    );
  let run = await fetch(['--depth=1'], [commit]);
  if (run.killed === null && run.code !== 0 && Date.now() < deadline)
    run = await fetch([], ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
  if (run.killed === 'too-large' || (await diskUsage(dest)) > opts.maxSize)
    fail('ARCHIVE_TOO_LARGE', `the repository at ${url} is larger than this registry's ${formatSize(opts.maxSize)} limit`);
  if (run.killed === 'timeout')
    fail(
      'ARCHIVE_INVALID',
      `could not fetch ${url}: it took longer than [outbound] timeout (${Math.round(outbound.config.timeoutMs / 1000)} s)`,
    );
  if (run.code !== 0)
    fail(
      'ARCHIVE_INVALID',
      `could not fetch ${url}: the server did not answer as a git repository, the connection failed, it redirects (use the final URL), it needs credentials, or its TLS certificate is not trusted (an internal CA goes in [outbound] ca_file)`,
    );
  const has = await runGitBounded(['--git-dir', dest, 'cat-file', '-e', `${commit}^{commit}`], { env, timeoutMs: 10_000 });
  if (has.code !== 0)
    fail('METADATA_INVALID', `${url} has no commit ${commit} (none of its branches or tags contains it); check the commit id`);
  return dest;
}
