/**
 * A scale-out deployment on one machine, as docs/deploy describes it: N `larder serve` processes (each
 * with its own data directory and port) on one PostgreSQL and one S3-compatible blob store, behind
 * HAProxy running docs/deploy/haproxy.cfg. Nodes can be killed (-9), stopped (SIGTERM) and restarted
 * on the same port and data directory; the PostgreSQL server can be stopped and started again.
 */
import path from 'node:path';
import { startHaproxy, type CheckTiming, type TestHaproxy } from './haproxy.js';
import { freePort } from './net.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { startS3, type TestS3 } from './s3.js';
import { startServeProcess, type ServeProcess } from './serve.js';
import { tempDir } from './tmp.js';

/** One node: fixed name, port and data directory across restarts; `process` is null while it is down. */
export interface ClusterNode {
  /** `node1`, `node2`, …: its server name in HAProxy. */
  name: string;
  port: number;
  /** `http://127.0.0.1:{port}`: the node directly, bypassing HAProxy. */
  url: string;
  data: string;
  process: ServeProcess | null;
  /** Every process this node ran, the current one last. */
  runs: ServeProcess[];
}

export interface NodeCluster {
  /** HAProxy's front end: what users reach. */
  url: string;
  haproxy: TestHaproxy;
  pg: TestPostgres;
  s3: TestS3;
  /** The database URL (`--database`) and blob store (`LARDER_BLOBS`) every node runs with. */
  database: string;
  blobs: string;
  nodes: ClusterNode[];
  /** kill -9 of node `i` (0-based): no shutdown code runs. */
  kill(i: number): Promise<void>;
  /** SIGTERM to node `i`, resolved when it has exited (after its drain). */
  stop(i: number): Promise<void>;
  /** Starts node `i` again on its port and data directory and waits until HAProxy sees it ready. */
  restart(i: number): Promise<void>;
  /** Waits until HAProxy's checks report node `i` UP or DOWN in `backend` (default larder_ready). */
  waitForNode(i: number, status: 'UP' | 'DOWN', backend?: string): Promise<void>;
  /** Whether node `i`'s process is running (false after kill/stop, or when it crashed). */
  alive(i: number): boolean;
  /** Everything node `i` printed, over all its runs: a crash's stack trace stays readable after a restart. */
  output(i: number): string;
  /** Stops HAProxy, the nodes, S3 and PostgreSQL, and deletes every directory they used. */
  close(): Promise<void>;
}

export interface NodeClusterOptions {
  nodes: number;
  /** HAProxy's health-check timing; short by default so tests see state changes quickly. */
  timing?: CheckTiming;
  /** Environment of every node, e.g. LARDER_TIMEOUTS_DRAIN (the serve helper sets it to 0 unless given). */
  env?: Record<string, string>;
  /** Extra `larder serve` flags of every node. */
  args?: string[];
  /** HAProxy's request log (off for benchmarks). */
  haproxyLog?: boolean;
}

/** Check timing the tests use: a node is seen down within ~0.4 s and up again within ~0.4 s of its change. */
export const FAST_CHECKS: CheckTiming = { inter: '200ms', fall: 2, rise: 2 };

/**
 * Starts PostgreSQL, s3rver, `nodes` Larder processes (the first alone, so it runs the migrations)
 * and HAProxy in front of them, and resolves once HAProxy sees every node ready.
 */
export async function startNodeCluster(opts: NodeClusterOptions): Promise<NodeCluster> {
  const root = tempDir('larder-cluster-');
  const started: { pg?: TestPostgres; s3?: TestS3; haproxy?: TestHaproxy; nodes: ClusterNode[] } = { nodes: [] };
  const close = async () => {
    await started.haproxy?.stop();
    for (const n of started.nodes) await n.process?.stop();
    await started.s3?.stop();
    await started.pg?.stop();
    root.remove();
  };
  try {
    started.pg = await startPostgres();
    started.s3 = await startS3();
    const database = await started.pg.newDatabase();
    const blobs = await started.s3.newBucketUrl();
    const serve = async (node: ClusterNode) => {
      const run = await startServeProcess({
        cwd: root.path,
        data: node.data,
        port: node.port,
        args: ['--database', database, ...(opts.args ?? [])],
        // `larder serve` has no --blobs flag; the setting comes from larder.toml or the environment.
        env: { LARDER_BLOBS: blobs, ...opts.env },
      });
      node.runs.push(run);
      return run;
    };
    for (let i = 0; i < opts.nodes; i++) {
      const port = await freePort();
      const name = `node${i + 1}`;
      started.nodes.push({ name, port, url: `http://127.0.0.1:${port}`, data: path.join(root.path, name), process: null, runs: [] });
    }
    started.nodes[0].process = await serve(started.nodes[0]);
    await Promise.all(started.nodes.slice(1).map(async (n) => (n.process = await serve(n))));
    const haproxy = await startHaproxy({ servers: started.nodes, timing: opts.timing ?? FAST_CHECKS, log: opts.haproxyLog });
    started.haproxy = haproxy;
    const waitForNode = (i: number, status: 'UP' | 'DOWN', backend = 'larder_ready') =>
      haproxy.waitForServer(backend, started.nodes[i].name, status);
    for (let i = 0; i < opts.nodes; i++) await waitForNode(i, 'UP');
    const node = (i: number) => {
      const n = started.nodes[i];
      if (!n) throw new Error(`no node ${i} in a cluster of ${started.nodes.length}`);
      return n;
    };
    return {
      url: haproxy.url,
      haproxy,
      pg: started.pg,
      s3: started.s3,
      database,
      blobs,
      nodes: started.nodes,
      async kill(i) {
        await node(i).process?.kill();
        node(i).process = null;
      },
      async stop(i) {
        await node(i).process?.stop();
        node(i).process = null;
      },
      async restart(i) {
        const n = node(i);
        if (n.process) throw new Error(`${n.name} is still running`);
        n.process = await serve(n);
        await waitForNode(i, 'UP');
      },
      waitForNode,
      alive: (i) => {
        const child = node(i).process?.child;
        return !!child && child.exitCode === null && child.signalCode === null;
      },
      output: (i) =>
        node(i)
          .runs.map((r, k) => `--- ${node(i).name}, run ${k + 1}\n${r.output()}`)
          .join('\n'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
