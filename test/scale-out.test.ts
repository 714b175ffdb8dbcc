/**
 * Scale-out (issue 13): three `larder serve` processes on one PostgreSQL and one S3 store behind HAProxy
 * (docs/deploy/haproxy.cfg). The real `cargo` publishes crates and builds a consumer through HAProxy
 * while readers and publishers keep it busy, and nodes are killed with -9 and restarted. A user must
 * see no failed read, every acknowledged publish must be served by every node with the right checksum
 * and a matching .crate, nothing half-written may be visible, and cargo's build must succeed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, expectOk, runCargo, type CargoRun } from './support/cargo-cli.js';
import { larder } from './support/cli.js';
import {
  indexUrlPath,
  makePublishes,
  sendPublish,
  servingProblems,
  startLoad,
  type Publish,
  type PublishOutcome,
} from './support/cluster-load.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startNodeCluster, type NodeCluster } from './support/node-cluster.js';
import { tempDir } from './support/tmp.js';

let cluster: NodeCluster;
const work = tempDir('larder-scale-out-');

beforeAll(async () => {
  cluster = await startNodeCluster({ nodes: 3 });
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
