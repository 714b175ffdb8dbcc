/**
 * Several real `larder serve` nodes on one PostgreSQL database and one S3 bucket, each with its own
 * working and data directory, as a scale-out deployment runs them (test/support/serve.ts per node).
 *
 *   const cluster = await startCluster({ database, blobs, config: REPOS_TOML, nodes: 3 }); // started together
 *   await cluster.restart(1, { config: NEWER_TOML });   // one node with another larder.toml
 *   await cluster.stop();
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServeProcess, type ServeProcess } from './serve.js';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

export interface ClusterNode {
  serve: ServeProcess;
  /** The node's working directory (its larder.toml). */
  cwd: string;
  /** The node's own data directory (caches and per-node state only). */
  data: string;
}

export interface Cluster {
  nodes: ClusterNode[];
  /** Stops node `i` (SIGTERM), writes `config` when given, and starts it again on the same port and data dir. */
  restart(i: number, opts?: { config?: string }): Promise<ClusterNode>;
  stop(): Promise<void>;
}

/** Starts `nodes` serve processes at the same instant on one database and bucket; all must come up. */
export async function startCluster(opts: {
  database: string;
  blobs: string;
  config: string;
  nodes: number;
  /** More environment for every node (LARDER_ADMIN_TOKEN is the test's unless set here). */
  env?: Record<string, string>;
}): Promise<Cluster> {
  const dirs = Array.from({ length: opts.nodes }, () => tempDir('larder-node-'));
  const args = ['--database', opts.database];
  const env = { LARDER_BLOBS: opts.blobs, ...opts.env };
  const nodes: ClusterNode[] = [];
  const start = async (cwd: string, data: string, port?: number): Promise<ClusterNode> => ({
    serve: await startServeProcess({ cwd, data, args, env, ...(port ? { port } : {}) }),
    cwd,
    data,
  });
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.serve.stop()));
    for (const d of dirs) d.remove();
  };
  const started = await Promise.allSettled(
    dirs.map((d) => {
      fs.writeFileSync(path.join(d.path, 'larder.toml'), opts.config);
      return start(d.path, path.join(d.path, 'data'));
    }),
  );
  for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  return {
    nodes,
    async restart(i, restartOpts = {}) {
      const node = nodes[i]!;
      await node.serve.stop();
      if (restartOpts.config !== undefined) fs.writeFileSync(path.join(node.cwd, 'larder.toml'), restartOpts.config);
      nodes[i] = await start(node.cwd, node.data, node.serve.port);
      return nodes[i];
    },
    stop: stopAll,
  };
}

/** `git ls-remote` of a URL: ref name → commit id. */
export async function lsRemote(url: string): Promise<Record<string, string>> {
  const { stdout } = await run('git', ['ls-remote', url], { env: gitEnv() });
  const refs: Record<string, string> = {};
  for (const line of stdout.trim().split('\n').filter(Boolean)) {
    const [id, name] = line.split('\t');
    refs[name!] = id!;
  }
  return refs;
}

/** Runs git with no user or system configuration and no prompts. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd, env: gitEnv() })).stdout;
}

function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };
}

/** Polls `check` until it returns true or the deadline passes (caches follow other nodes asynchronously). */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
