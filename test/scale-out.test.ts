/**
 * Scale-out (issue 13): three `larder serve` processes on one PostgreSQL and one S3 store behind HAProxy
 * (docs/deploy/haproxy.cfg), one cluster for the whole file (each test leaves every node running):
 * - the real `cargo` publishes crates and builds a consumer through HAProxy while readers and publishers
 *   keep it busy, and nodes are killed with -9 and restarted. A user must see no failed read, every
 *   acknowledged publish must be served by every node with the right checksum and a matching .crate,
 *   nothing half-written may be visible, and cargo's build must succeed;
 * - a rolling restart (SIGTERM each node in turn, restart it, next) fails no request: a draining node
 *   answers /-/readyz 503 while it still serves everything else, so HAProxy moves away first;
 * - a PostgreSQL restart crashes no node, cached index files keep being served through HAProxy while
 *   every node reports not-ready, and afterwards no node serves a stale document, not even one it
 *   read during the outage or one published the moment the database came back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, expectOk, runCargo, type CargoRun } from './support/cargo-cli.js';
import { larder } from './support/cli.js';
import {
  closedWithoutAnswer,
  indexUrlPath,
  makePublishes,
  sendPublish,
  servingProblems,
  startLoad,
  type Publish,
  type PublishOutcome,
} from './support/cluster-load.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { FAST_CHECKS, startNodeCluster, type NodeCluster } from './support/node-cluster.js';
import { tempDir } from './support/tmp.js';

/** Drain on SIGTERM: at least twice what HAProxy needs to see a node down (inter × fall = 400 ms here). */
const DRAIN_MS = 4 * 200 * FAST_CHECKS.fall;

let cluster: NodeCluster;
const work = tempDir('larder-scale-out-');

beforeAll(async () => {
  // kill -9 skips the drain, so the kill test runs as it would without one.
  cluster = await startNodeCluster({ nodes: 3, env: { LARDER_TIMEOUTS_DRAIN: `${DRAIN_MS}ms` } });
}, 120_000);
afterAll(async () => {
  await cluster?.close();
  work.remove();
});

/** A cargo sandbox whose `larder` registry is the cluster, through HAProxy over HTTP. */
function cargoSandbox(root: string) {
  fs.mkdirSync(path.join(root, '.cargo'), { recursive: true });
  fs.writeFileSync(path.join(root, '.cargo', 'config.toml'), `[registries.larder]\nindex = "sparse+${cluster.url}/cargo/index/"\n`);
  const env = {
    ...cleanEnv(),
    CARGO_HOME: path.join(root, 'cargo-home'),
    CARGO_TARGET_DIR: path.join(root, 'target'),
    CARGO_REGISTRIES_LARDER_TOKEN: TEST_ADMIN_TOKEN,
    CARGO_TERM_COLOR: 'never',
    CARGO_TERM_PROGRESS_WHEN: 'never',
    // cargo's own retries would hide failures a user could see.
    CARGO_NET_RETRY: '0',
    CARGO_INCREMENTAL: '0',
  };
  const project = (name: string, files: Record<string, string>) => {
    const dir = path.join(root, name);
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    }
    return dir;
  };
  return { project, cargo: (cwd: string, args: string[]): Promise<CargoRun> => runCargo(args, { cwd, env }) };
}

const manifest = (name: string, version: string, deps = '') =>
  `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\ndescription = "${name}, for the scale-out test"\nlicense = "MIT"\n\n[dependencies]\n${deps}`;

/** Outcomes a user may see from a publish: 200, or a clean 5xx from the cluster that a retry then fixes. */
function refusedOutcomes(outcomes: PublishOutcome[]): PublishOutcome[] {
  return outcomes.filter((o) => o.status !== 200 && !(o.status >= 500 && o.status <= 599));
}

describe('three nodes behind HAProxy, nodes killed under load', () => {
  it('loses no read and no acknowledged publish, shows nothing half-written, and cargo builds', async () => {
    const { project, cargo } = cargoSandbox(path.join(work.path, 'cargo'));

    // Crates the readers read: published (and so cached by whichever node served them) before the load.
    const seeded = await makePublishes('sr', 20, 20);
    for (const p of seeded) expect((await sendPublish(cluster.url, p)).status).toBe(200);
    const publishes = await makePublishes('so', 40, 1000);
    const load = startLoad({ url: cluster.url, readCrates: seeded.map((p) => p.name), publishes, readers: 2, publishers: 2 });

    let killedWhileBusy = 0;
    try {
      // cargo publishes through HAProxy under load.
      const base = project('sc_base', { 'Cargo.toml': manifest('sc_base', '0.1.0'), 'src/lib.rs': 'pub fn base() -> u32 { 40 }\n' });
      expectOk(await cargo(base, ['publish', '--registry', 'larder', '--allow-dirty', '--no-verify']));
      await load.publishesAnswered(20);

      // kill -9 of node1 in the middle of publishes and reads; cargo publishes again while it is down.
      await cluster.kill(0);
      killedWhileBusy++;
      const util = project('sc_util', {
        'Cargo.toml': manifest('sc_util', '0.1.0', 'sc_base = { version = "0.1", registry = "larder" }\n'),
        'src/lib.rs': 'pub fn answer() -> u32 { sc_base::base() + 2 }\n',
      });
      expectOk(await cargo(util, ['publish', '--registry', 'larder', '--allow-dirty', '--no-verify']));
      await load.publishesAnswered(20);

      // node1 back on the same port and data directory, then node2 killed; cargo resolves and builds.
      await cluster.restart(0);
      await load.publishesAnswered(20);
      await cluster.kill(1);
      killedWhileBusy++;
      const app = project('sc_app', {
        'Cargo.toml': `[package]\nname = "sc_app"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\nsc_util = { version = "0.1", registry = "larder" }\n`,
        'src/main.rs': 'fn main() { println!("answer {}", sc_util::answer()); }\n',
      });
      const run = expectOk(await cargo(app, ['run', '--quiet']));
      expect(run.stdout).toBe('answer 42\n');
      await load.publishesAnswered(20);
      await cluster.restart(1);
      await load.publishesAnswered(20);
    } finally {
      await load.stop();
    }
    const { reads, failedReads, outcomes } = load.summary;

    // What a user saw through HAProxy: no failed read; publishes acknowledged or cleanly refused with a 5xx.
    expect(failedReads, cluster.haproxy.logTrouble()).toEqual([]);
    expect(
      refusedOutcomes(outcomes).map((o) => `${o.status} ${o.publish.name}@${o.publish.vers}: ${o.message}`),
      cluster.haproxy.logTrouble(),
    ).toEqual([]);
    const retried = outcomes.filter((o) => o.status !== 200);
    for (const o of retried) {
      const again = await sendPublish(cluster.url, o.publish);
      expect(again.status, `retry of ${o.publish.name}@${o.publish.vers} (first answered ${o.status} ${o.message}): ${again.message}`).toBe(
        200,
      );
    }

    // Every node, directly: every acknowledged publish with its checksum and .crate, nothing half-written.
    const attempted: Publish[] = [...seeded, ...outcomes.map((o) => o.publish)];
    for (let i = 0; i < cluster.nodes.length; i++) {
      expect(cluster.alive(i), cluster.output(i)).toBe(true);
      expect(await servingProblems(cluster.nodes[i].url, attempted, attempted), cluster.nodes[i].name).toEqual([]);
    }
    // The cargo-published crates too, on every node.
    for (const node of cluster.nodes)
      for (const name of ['sc_base', 'sc_util']) {
        const res = await fetch(`${node.url}${indexUrlPath(name)}`);
        expect(res.status, `${name} on ${node.name}`).toBe(200);
      }

    // The shared storage agrees: every index document matches its rows and every blob its hash.
    const verify = await larder(work.path, ['verify', '--data', path.join(work.path, 'verify-data'), '--database', cluster.database], {
      LARDER_BLOBS: cluster.blobs,
    });
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);

    const acknowledged = outcomes.length - retried.length;
    console.log(
      `scale-out: ${reads} reads through HAProxy, 0 failed; ${outcomes.length} publishes under load, ${acknowledged} acknowledged, ` +
        `${retried.length} answered 5xx and acknowledged on retry; ${killedWhileBusy} nodes killed with -9; every node serves all ` +
        `${attempted.length} versions with matching .crate files`,
    );
    expect(outcomes.length).toBeGreaterThan(100);
  }, 180_000);
});

/** GET `url`; a connection error is status 0 with the error as text. */
async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { status: 0, text: String((err as Error).cause ?? err) };
  }
}

/** Polls `check` every 50 ms until it returns true; false once `ms` have passed. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every node serves every publish acknowledged so far (directly, bypassing HAProxy), with nothing half-written. */
async function expectServedEverywhere(published: Publish[]): Promise<void> {
  for (let i = 0; i < cluster.nodes.length; i++)
    expect(await servingProblems(cluster.nodes[i].url, published, published), cluster.nodes[i].name).toEqual([]);
}

describe('three nodes behind HAProxy, restarted under load', () => {
  let seeded: Publish[];

  beforeAll(async () => {
    // Crates the readers read, published before any load.
    seeded = await makePublishes('rr', 20, 20);
    for (const p of seeded) expect((await sendPublish(cluster.url, p)).status).toBe(200);
  }, 120_000);

  it('restarts every node in turn (SIGTERM, drain, start) without one failed request', async () => {
    const publishes = await makePublishes('rs', 40, 1000);
    const load = startLoad({ url: cluster.url, readCrates: seeded.map((p) => p.name), publishes, readers: 2, publishers: 2 });
    const draining: string[] = [];
    try {
      await load.publishesAnswered(10);
      for (let i = 0; i < cluster.nodes.length; i++) {
        const node = cluster.nodes[i];
        const stopped = cluster.stop(i);
        // Draining: not ready, so HAProxy takes it out, but still serving what it is asked.
        const notReady = await eventually(async () => (await get(`${node.url}/-/readyz`)).status === 503, DRAIN_MS);
        expect(notReady, `${node.name}: /-/readyz never answered 503 after SIGTERM`).toBe(true);
        const read = await get(`${node.url}${indexUrlPath(seeded[0].name)}`);
        expect(read.status, `${node.name} while draining`).toBe(200);
        draining.push(node.name);
        await stopped;
        await cluster.restart(i);
        await load.publishesAnswered(10);
      }
    } finally {
      await load.stop();
    }
    const { reads, failedReads, outcomes } = load.summary;
    expect(draining).toEqual(['node1', 'node2', 'node3']);
    expect(failedReads, cluster.haproxy.logTrouble()).toEqual([]);
    expect(outcomes.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.publish.name}@${o.publish.vers}: ${o.message}`)).toEqual(
      [],
    );
    for (let i = 0; i < cluster.nodes.length; i++) expect(cluster.alive(i)).toBe(true);
    await expectServedEverywhere([...seeded, ...outcomes.map((o) => o.publish)]);
    console.log(`rolling restart: ${reads} reads and ${outcomes.length} publishes through HAProxy, 0 failed`);
    // Three drains and three starts under load: beside another test file on 2 cores this passed 120 s.
  }, 240_000);

  it('survives a PostgreSQL restart: nodes stay up, cached reads go on, nothing stays stale', async () => {
    for (let i = 0; i < cluster.nodes.length; i++) if (!cluster.alive(i)) await cluster.restart(i);
    // Every node holds every seeded index file in its cache.
    for (const node of cluster.nodes) for (const p of seeded) expect((await get(`${node.url}${indexUrlPath(p.name)}`)).status).toBe(200);
    const publishes = await makePublishes('rp', 40, 1000);
    // A read queued for the ready backend when its last node turns unready is closed by HAProxy without an answer
    // (its retry finds no server): cargo retries that, and so does this load.
    const load = startLoad({
      url: cluster.url,
      readCrates: seeded.map((p) => p.name),
      publishes,
      readers: 2,
      publishers: 1,
      retryClosedReads: true,
    });
    const [node1, node2, node3] = cluster.nodes;
    const late: Publish[] = [];
    const outage = { reads: 0, viaLive: 0 };
    try {
      await load.publishesAnswered(5);
      const liveBefore = Number(await cluster.haproxy.statField('larder_live', 'BACKEND', 'stot'));
      await cluster.pg.stopServer();
      const outageStarted = load.summary.reads;
      // Every node reports not-ready, and HAProxy, seeing no node ready, sends requests to the live ones.
      for (let i = 0; i < cluster.nodes.length; i++) {
        const notReady = await eventually(async () => (await get(`${cluster.nodes[i].url}/-/readyz`)).status === 503, 10_000);
        expect(notReady, `${cluster.nodes[i].name}: /-/readyz did not answer 503 with the database down`).toBe(true);
      }
      for (let i = 0; i < cluster.nodes.length; i++) await cluster.waitForNode(i, 'DOWN');
      // node2 reads a document during the outage (from its cache).
      const during = await get(`${node2.url}${indexUrlPath(seeded[0].name)}`);
      expect(during.status).toBe(200);
      await new Promise((r) => setTimeout(r, 2000));
      outage.reads = load.summary.reads - outageStarted;
      outage.viaLive = Number(await cluster.haproxy.statField('larder_live', 'BACKEND', 'stot')) - liveBefore;
      await cluster.pg.startServer();

      // A publish on node1 the moment the database is back (503s while node1 reconnects are fine).
      const [fresh] = await makePublishes('rr', 20, 1, 20);
      let answer = await sendPublish(node1.url, fresh);
      const until = Date.now() + 30_000;
      while (answer.status !== 200 && answer.status >= 500 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        answer = await sendPublish(node1.url, fresh);
      }
      expect(answer.status, answer.message).toBe(200);
      late.push(fresh);
      // nodes 2 and 3 serve it: node2's copy read during the outage did not stay.
      for (const node of [node2, node3]) {
        const served = await eventually(
          async () => (await get(`${node.url}${indexUrlPath(fresh.name)}`)).text.includes(`"vers":"${fresh.vers}"`),
          10_000,
        );
        expect(served, `${node.name} still serves ${fresh.name} without ${fresh.vers} after the database came back`).toBe(true);
      }
      // And a publish some time later, too.
      const [later] = await makePublishes('rr', 20, 1, 21);
      expect((await sendPublish(node1.url, later)).status).toBe(200);
      late.push(later);
      for (const node of [node2, node3]) {
        const served = await eventually(
          async () => (await get(`${node.url}${indexUrlPath(later.name)}`)).text.includes(`"vers":"${later.vers}"`),
          10_000,
        );
        expect(served, `${node.name} does not serve ${later.name}@${later.vers}`).toBe(true);
      }
      for (let i = 0; i < cluster.nodes.length; i++) await cluster.waitForNode(i, 'UP');
    } finally {
      await load.stop();
    }
    for (let i = 0; i < cluster.nodes.length; i++) expect(cluster.alive(i), cluster.output(i)).toBe(true);
    const { reads, failedReads, retriedReads, outcomes } = load.summary;
    expect(failedReads, cluster.haproxy.logTrouble()).toEqual([]);
    // While no node was ready, HAProxy sent the requests to the live backend (and the reads above all succeeded).
    expect(outage.viaLive).toBeGreaterThan(0);
    // Publishes during the outage may be refused: with a clean 5xx, or (HAProxy 2.6, when the last ready node goes
    // down while it is retrying a publish a node answered 503) by closing the keep-alive connection without an
    // answer, HTTP/1.1's sign that the request was not processed. Either way a retry must succeed.
    expect(
      outcomes
        .filter((o) => o.status !== 200 && !(o.status >= 500 && o.status <= 599) && !closedWithoutAnswer(o))
        .map((o) => `${o.status}: ${o.message}`),
      cluster.haproxy.logTrouble(),
    ).toEqual([]);
    const refused = outcomes.filter((o) => o.status !== 200);
    for (const o of refused) expect((await sendPublish(cluster.url, o.publish)).status).toBe(200);
    for (const node of cluster.nodes) expect((await get(`${node.url}/-/readyz`)).status).toBe(200);
    await expectServedEverywhere([...seeded, ...late, ...outcomes.map((o) => o.publish)]);
    console.log(
      `PostgreSQL restart: ${reads} reads through HAProxy (${outage.reads} during the outage, ${outage.viaLive} requests sent to the live backend), 0 failed (${retriedReads} retried once after HAProxy closed the connection); ` +
        `${outcomes.length} publishes, ${refused.length} refused during the outage (${refused.filter(closedWithoutAnswer).length} by a closed connection, the rest with a 5xx) and accepted on retry`,
    );
  }, 120_000);
});
