import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitRepo, startGitServer, type GitServer } from '../../test/support/git-server.js';
import { tempDir } from '../../test/support/tmp.js';
import type { OutboundConfig } from '../core/config.js';
import { OUTBOUND_DEFAULTS, resolveOutbound } from '../core/config/outbound.js';
import { LarderError } from '../core/errors.js';
import { cloneChecked, fetchCommitChecked } from './git-clone.js';
import { OutboundClient } from './outbound.js';

const work = tempDir('larder-git-clone-');
let server: GitServer;
let plain: GitServer;

beforeAll(async () => {
  const repo = path.join(work.path, 'repos', 'Big.jl');
  fs.mkdirSync(repo, { recursive: true });
  fs.writeFileSync(path.join(repo, 'noise.bin'), randomBytes(200 * 1024));
  await commitRepo(repo, 'v1');
  server = await startGitServer(path.join(work.path, 'repos'), { tls: true });
  plain = await startGitServer(path.join(work.path, 'repos'));
});
afterAll(async () => {
  await server?.close();
  await plain?.close();
  work.remove();
});

let seq = 0;
async function clone(config: Partial<OutboundConfig>, url: string, maxSize = 10 << 20): Promise<string> {
  const outbound = new OutboundClient({
    ...resolveOutbound(OUTBOUND_DEFAULTS),
    allowPrivate: [],
    caFile: server.caFile,
    gitAllowHttp: false,
    timeoutMs: 30_000,
    ...config,
  });
  const dir = path.join(work.path, `w${seq++}`);
  fs.mkdirSync(dir);
  try {
    return await cloneChecked(outbound, url, dir, { maxSize });
  } finally {
    await outbound.close();
  }
}

async function failure(config: Partial<OutboundConfig>, url: string, maxSize?: number): Promise<LarderError> {
  try {
    await clone(config, url, maxSize);
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    return err as LarderError;
  }
  throw new Error(`expected cloning ${url} to fail`);
}

describe('cloneChecked', () => {
  it('clones over https from an allowed host name, pinned to the addresses it was checked at', async () => {
    const url = `https://localhost:${new URL(server.url).port}/Big.jl`;
    const dir = await clone({ allowPrivate: ['localhost'] }, url);
    expect(fs.existsSync(path.join(dir, 'HEAD'))).toBe(true);
    expect((await failure({}, url)).message).toMatch(/its host resolves to a loopback address/);
  });

  it('clones over plain http only when git_allow_http is set', async () => {
    expect((await failure({ allowPrivate: ['127.0.0.1'] }, `${plain.url}/Big.jl`)).message).toMatch(/git_allow_http = true/);
    const before = plain.hits;
    await clone({ allowPrivate: ['127.0.0.1'], gitAllowHttp: true }, `${plain.url}/Big.jl`);
    expect(plain.hits).toBeGreaterThan(before);
  });

  it('does not trust the server certificate without [outbound] ca_file', async () => {
    const e = await failure({ allowPrivate: ['127.0.0.1'], caFile: null }, `${server.url}/Big.jl`);
    expect(e.message).toMatch(/could not clone .*TLS certificate is not trusted \(an internal CA goes in \[outbound\] ca_file\)/);
  });

  it('stops a clone past the size bound', async () => {
    const e = await failure({ allowPrivate: ['127.0.0.1'] }, `${server.url}/Big.jl`, 64 * 1024);
    expect(e.code).toBe('ARCHIVE_TOO_LARGE');
  });

  it('kills a clone that takes longer than [outbound] timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const e = await failure(
        { allowPrivate: ['127.0.0.1'], gitAllowHttp: true, timeoutMs: 1000 },
        `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/Big.jl`,
      );
      expect(e.message).toMatch(/took longer than \[outbound\] timeout/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe('fetchCommitChecked', () => {
  const head = () =>
    execFileSync('git', ['-C', path.join(work.path, 'repos', 'Big.jl'), 'rev-parse', 'HEAD'])
      .toString()
      .trim();

  async function fetchCommit(config: Partial<OutboundConfig>, url: string, commit: string, maxSize = 10 << 20): Promise<string> {
    const outbound = new OutboundClient({
      ...resolveOutbound(OUTBOUND_DEFAULTS),
      allowPrivate: [],
      caFile: server.caFile,
      gitAllowHttp: false,
      timeoutMs: 30_000,
      ...config,
    });
    const dir = path.join(work.path, `f${seq++}`);
    fs.mkdirSync(dir);
    try {
      return await fetchCommitChecked(outbound, url, commit, dir, { maxSize });
    } finally {
      await outbound.close();
    }
  }

  async function refusal(config: Partial<OutboundConfig>, url: string, commit: string, maxSize?: number): Promise<LarderError> {
    try {
      await fetchCommit(config, url, commit, maxSize);
    } catch (err) {
      expect(err).toBeInstanceOf(LarderError);
      return err as LarderError;
    }
    throw new Error(`expected fetching ${commit} from ${url} to fail`);
  }

  it('fetches one commit over https from an allowed host name with the internal CA, under the same address rules as a clone', async () => {
    const url = `https://localhost:${new URL(server.url).port}/Big.jl`;
    const dir = await fetchCommit({ allowPrivate: ['localhost'] }, url, head());
    expect(execFileSync('git', ['--git-dir', dir, 'cat-file', '-t', head()]).toString().trim()).toBe('commit');
    expect((await refusal({}, url, head())).message).toMatch(/its host resolves to a loopback address/);
    expect((await refusal({ allowPrivate: ['127.0.0.1'], caFile: null }, `${server.url}/Big.jl`, head())).message).toMatch(
      /could not fetch .*TLS certificate is not trusted/,
    );
    expect((await refusal({ allowPrivate: ['127.0.0.1'] }, `${plain.url}/Big.jl`, head())).message).toMatch(/git_allow_http = true/);
  });

  it('refuses an abbreviated id, a commit the repository lacks, and a repository past the size bound', async () => {
    const allowed = { allowPrivate: ['127.0.0.1'] };
    expect((await refusal(allowed, `${server.url}/Big.jl`, head().slice(0, 12))).message).toMatch(/not a full 40-hex commit id/);
    expect((await refusal(allowed, `${server.url}/Big.jl`, 'e'.repeat(40))).message).toMatch(/has no commit e{40}/);
    expect((await refusal(allowed, `${server.url}/Big.jl`, head(), 64 * 1024)).code).toBe('ARCHIVE_TOO_LARGE');
  });
});
