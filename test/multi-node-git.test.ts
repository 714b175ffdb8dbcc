/**
 * Git views on several nodes: Julia's registry, MoonBit's index (hosted, a proxy of a git upstream, and a group
 * over both) and Cargo's git index (hosted, squashed as it goes, and a group) are bare repositories under each node's data directory, caches of the `git_history` rows in the one
 * PostgreSQL database. Written through different nodes at once, every node serves the same commit ids; a clone
 * from one node pulls from another as a fast-forward; a deleted cache (node running or stopped) is rebuilt with the
 * same ids; nodes asked at the same moment to sync one upstream record one commit, not a fork.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectToml } from './support/julia.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { simplePublishBody } from './support/cargo.js';
import { moduleZip, publishForm } from './support/moonbit-publish.js';
import { startMoonbitUpstream, type MoonbitUpstream } from './support/moonbit-upstream.js';
import { git, lsRemote, startCluster, type Cluster } from './support/nodes.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startS3, type TestS3 } from './support/s3.js';
import { tempDir } from './support/tmp.js';
import { canonicalTarball } from '../src/formats/julia/tarball.js';

const REGISTRY = '7c0d9a43-5b1e-4f4e-9d3a-0c8a3a1f2e61';
const work = tempDir('larder-nodes-git-');
let postgres: TestPostgres;
let s3: TestS3;
let upstream: MoonbitUpstream;
let cluster: Cluster;
let database: string;

const config = (upstreamUrl: string) => `
[outbound]
allow_private = ["127.0.0.1"]

[[repos]]
name = "julia"
format = "julia"
kind = "hosted"

[[repos]]
name = "moonbit"
format = "moonbit"
kind = "hosted"

[[repos]]
name = "moon-up"
format = "moonbit"
kind = "proxy"
upstream = "${upstreamUrl}"
ttl = "1s"

[[repos]]
name = "moon-all"
format = "moonbit"
kind = "group"
members = ["moonbit", "moon-up"]

[[repos]]
name = "cargo"
format = "cargo"
kind = "hosted"
git_batch = "0s"
git_squash_after = 6

[[repos]]
name = "cargo-all"
format = "cargo"
kind = "group"
members = ["cargo"]
`;

beforeAll(async () => {
  postgres = await startPostgres();
  s3 = await startS3();
  upstream = await startMoonbitUpstream();
  upstream.module('up/base', '1.0.0');
  await upstream.commit('first');
  database = await postgres.newDatabase();
  cluster = await startCluster({ database, blobs: await s3.newBucketUrl(), config: config(upstream.url), nodes: 3 });
}, 240_000);
afterAll(async () => {
  await cluster?.stop();
  await upstream?.close();
  await s3?.stop();
  await postgres?.stop();
  work.remove();
});

const url = (i: number) => cluster.nodes[i]!.serve.url;
const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function query(text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  try {
    return (await client.query(text)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/** `git ls-remote` of one URL path on every node, asked at the same moment. */
const everywhere = (p: string) => Promise.all(cluster.nodes.map((n) => lsRemote(`${n.serve.url}${p}`)));

/**
 * Keeps asking every node for the git views while `work` runs, so caches are built between the writes. A short
 * pause between rounds: back-to-back `git ls-remote` processes took the CPU the writes need (each write takes
 * longer than the pause, so reads still fall between and during them).
 */
async function whileReading<T>(paths: string[], work: () => Promise<T>): Promise<T> {
  let done = false;
  const readers = paths.map(async (p) => {
    while (!done) {
      await everywhere(p).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  try {
    return await work();
  } finally {
    done = true;
    await Promise.all(readers);
  }
}

async function registerJulia(node: number, name: string, uuid: string, version: string): Promise<void> {
  const tree = new Map([
    ['Project.toml', { kind: 'file' as const, data: Buffer.from(projectToml(name, uuid, version)) }],
    [`src/${name}.jl`, { kind: 'file' as const, data: Buffer.from(`module ${name} end\n`) }],
  ]);
  const res = await fetch(`${url(node)}/julia/api/registries/${REGISTRY}/packages`, {
    method: 'PUT',
    body: new Uint8Array(await canonicalTarball(tree)),
    headers: { 'content-type': 'application/gzip', ...auth },
  });
  expect(res.status, await res.text()).toBe(201);
}

async function publishMoonbit(node: number, module: string, version: string): Promise<void> {
  const { payload, headers } = await publishForm([['file', moduleZip({ name: module, version })]]);
  const res = await fetch(`${url(node)}/moonbit/api/v0/publish`, {
    method: 'POST',
    body: new Uint8Array(payload),
    headers: { ...headers, ...auth },
  });
  expect(res.status, await res.text()).toBe(200);
}

async function publishCargo(node: number, crate: string, version: string): Promise<void> {
  const { body } = await simplePublishBody(crate, version);
  const res = await fetch(`${url(node)}/cargo/api/v1/crates/new`, { method: 'PUT', body: new Uint8Array(body), headers: auth });
  expect(res.status, await res.text()).toBe(200);
}

/** Every node serves `p` with the same refs (and a branch at all). */
async function expectSameIds(p: string, branch: string): Promise<Record<string, string>> {
  const refs = await everywhere(p);
  expect(refs[0]![`refs/heads/${branch}`], p).toMatch(/^[0-9a-f]{40}$/);
  for (const r of refs) expect(r, p).toEqual(refs[0]);
  return refs[0]!;
}

// Three server processes doing git work on two cores: minutes, not the default minute.
describe('git views on three nodes', { timeout: 240_000 }, () => {
  const packages = ['NodeAlpha', 'NodeBravo', 'NodeCharlie', 'NodeDelta', 'NodeEcho', 'NodeFoxtrot'].map((name) => ({
    name,
    uuid: randomUUID(),
  }));

  it('registers Julia packages through every node at once: one registry with all of them, the same commit ids everywhere', async () => {
    const created = await fetch(`${url(0)}/julia/api/registries`, {
      method: 'POST',
      body: JSON.stringify({ name: 'Team', uuid: REGISTRY }),
      headers: { 'content-type': 'application/json', ...auth },
    });
    expect(created.status).toBe(201);
    await whileReading(['/julia/Team.git'], () =>
      Promise.all(
        packages.map((p, i) =>
          registerJulia(i % 3, p.name, p.uuid, '0.1.0').then(() => registerJulia((i + 1) % 3, p.name, p.uuid, '0.2.0')),
        ),
      ),
    );
    const refs = await expectSameIds('/julia/Team.git', 'master');

    const clone = path.join(work.path, 'Team');
    await git(work.path, 'clone', '--quiet', `${url(0)}/julia/Team.git`, clone);
    expect((await git(clone, 'rev-parse', 'HEAD')).trim()).toBe(refs['refs/heads/master']);
    const registryToml = fs.readFileSync(path.join(clone, 'Registry.toml'), 'utf8');
    for (const p of packages) {
      expect(registryToml).toContain(p.uuid);
      expect(fs.readFileSync(path.join(clone, p.name[0]!, p.name, 'Versions.toml'), 'utf8')).toContain('["0.2.0"]');
    }
    // What /registries advertises on every node is the clone's tree.
    const tree = (await git(clone, 'rev-parse', 'HEAD^{tree}')).trim();
    for (let i = 0; i < 3; i++) expect(await (await fetch(`${url(i)}/julia/registries`)).text()).toBe(`/registry/${REGISTRY}/${tree}\n`);
    // One registration and one creation commit each, linear.
    expect((await git(clone, 'rev-list', '--count', 'HEAD')).trim()).toBe(String(1 + packages.length * 2));
    expect((await git(clone, 'rev-list', '--min-parents=2', 'HEAD')).trim()).toBe('');
  });

  it('pulls on node B what was registered on node C into a clone from node A, as a fast-forward', async () => {
    const clone = path.join(work.path, 'Team');
    const before = (await git(clone, 'rev-parse', 'HEAD')).trim();
    await registerJulia(2, packages[0]!.name, packages[0]!.uuid, '0.3.0');
    await git(clone, 'remote', 'set-url', 'origin', `${url(1)}/julia/Team.git`);
    await git(clone, 'pull', '--quiet', '--ff-only', 'origin', 'master');
    expect((await git(clone, 'rev-parse', 'HEAD~1')).trim()).toBe(before);
    expect(fs.readFileSync(path.join(clone, 'N', 'NodeAlpha', 'Versions.toml'), 'utf8')).toContain('["0.3.0"]');
    await expectSameIds('/julia/Team.git', 'master');
  });

  it('publishes MoonBit modules through every node at once: the same index, group and commit ids everywhere', async () => {
    const views = ['/moonbit/git/index', '/moon-all/git/index', '/moon-up/git/index'];
    await whileReading(views, () =>
      Promise.all(
        ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0'].map((v, i) =>
          publishMoonbit(i % 3, `team/mod${i % 2}`, v).then(() => publishMoonbit((i + 1) % 3, `team/other${i}`, v)),
        ),
      ),
    );
    const hosted = await expectSameIds('/moonbit/git/index', 'main');
    await expectSameIds('/moon-all/git/index', 'main');
    await expectSameIds('/moon-up/git/index', 'main');

    const clone = path.join(work.path, 'index');
    await git(work.path, 'clone', '--quiet', `${url(0)}/moonbit/git/index`, clone);
    expect((await git(clone, 'rev-parse', 'HEAD')).trim()).toBe(hosted['refs/heads/main']);
    // Versions of one module were published through different nodes: each is one line, none lost.
    for (const m of ['mod0', 'mod1'])
      expect(
        fs
          .readFileSync(path.join(clone, 'user/team', `${m}.index`), 'utf8')
          .trim()
          .split('\n'),
      ).toHaveLength(3);
    // The group shows the hosted modules and the upstream's.
    const group = path.join(work.path, 'group');
    await git(work.path, 'clone', '--quiet', `${url(1)}/moon-all/git/index`, group);
    expect(fs.existsSync(path.join(group, 'user/team/mod0.index'))).toBe(true);
    expect(fs.existsSync(path.join(group, 'user/up/base.index'))).toBe(true);

    await publishMoonbit(2, 'team/mod0', '1.0.0');
    await git(clone, 'remote', 'set-url', 'origin', `${url(1)}/moonbit/git/index`);
    const before = (await git(clone, 'rev-parse', 'HEAD')).trim();
    await git(clone, 'pull', '--quiet', '--ff-only', 'origin', 'main');
    expect((await git(clone, 'rev-parse', 'HEAD~1')).trim()).toBe(before);
    expect(fs.readFileSync(path.join(clone, 'user/team/mod0.index'), 'utf8')).toContain('"1.0.0"');
  });

  it('records one commit per upstream commit when every node syncs the proxy at the same moment', async () => {
    for (let round = 0; round < 3; round++) {
      upstream.module('up/base', `2.${round}.0`);
      const commit = await upstream.commit(`round ${round}`);
      // Past the proxy's ttl (1 s) on every node, then all asked at once.
      await new Promise((r) => setTimeout(r, 1200));
      await expectSameIds('/moon-up/git/index', 'main');
      const rows = await query(
        `select g.message from git_history g join repos r on r.id = g.repo_id where r.name = 'moon-up' and g.message like '%${commit}%'`,
      );
      expect(rows).toHaveLength(1);
      const refs = await expectSameIds('/moon-all/git/index', 'main');
      const clone = path.join(work.path, `group-${round}`);
      await git(work.path, 'clone', '--quiet', `${url(round % 3)}/moon-all/git/index`, clone);
      expect((await git(clone, 'rev-parse', 'HEAD')).trim()).toBe(refs['refs/heads/main']);
      expect(fs.readFileSync(path.join(clone, 'user/up/base.index'), 'utf8')).toContain(`"2.${round}.0"`);
    }
    // Each upstream commit became one proxy commit, in upstream order: the proxy's history never stepped back.
    const synced = await query(
      "select g.message from git_history g join repos r on r.id = g.repo_id where r.name = 'moon-up' order by g.id",
    );
    const marked = synced.map((r) => /Upstream-Commit: ([0-9a-f]{40})/.exec(String(r.message))?.[1]);
    expect(new Set(marked).size).toBe(marked.length);
    // Nor did the group's: each union commit was built from member tips at least as new as the one before.
    const united = await query(
      "select g.message from git_history g join repos r on r.id = g.repo_id where r.name = 'moon-all' order by g.id",
    );
    const last = new Map<string, number>();
    for (const { message } of united) {
      const key = /Members: (\S+)/.exec(String(message))?.[1];
      if (!key) continue;
      for (const pair of key.split(',')) {
        const [member, head] = pair.split(':');
        expect(Number(head)).toBeGreaterThanOrEqual(last.get(member!) ?? 0);
        last.set(member!, Number(head));
      }
    }
    expect(last.size).toBe(2);
  });

  it('publishes crates through every node at once: the same Cargo git index, squashes and commit ids everywhere', async () => {
    const views = ['/cargo/git/index', '/cargo-all/git/index'];
    await whileReading(views, () =>
      Promise.all(
        ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0'].map((v, i) =>
          publishCargo(i % 3, `crate${i % 2}`, v).then(() => publishCargo((i + 1) % 3, `other${i}`, v)),
        ),
      ),
    );
    // How many commits the burst made depends on when the reads fell: more writes, each read on every node, until
    // the history passed git_squash_after (6) and was squashed (each write + read is one commit).
    const generation = async () =>
      String(
        (
          await query(
            "select g.history from git_history g join repos r on r.id = g.repo_id where r.name = 'cargo' order by g.id desc limit 1",
          )
        )[0]!.history,
      );
    for (let i = 0; i < 8 && (await generation()) === 'index'; i++) {
      await publishCargo(i % 3, 'crate1', `1.0.${i}`);
      await everywhere('/cargo/git/index');
    }
    expect(await generation()).toMatch(/^index\.\d+$/);
    await everywhere('/cargo-all/git/index');
    const hosted = await expectSameIds('/cargo/git/index', 'main');
    await expectSameIds('/cargo-all/git/index', 'main');
    for (const [view, node] of [
      ['/cargo/git/index', 0],
      ['/cargo-all/git/index', 1],
    ] as const) {
      const clone = path.join(work.path, `cargo-${node}`);
      await git(work.path, 'clone', '--quiet', `${url(node)}${view}`, clone);
      if (view === '/cargo/git/index') expect((await git(clone, 'rev-parse', 'HEAD')).trim()).toBe(hosted['refs/heads/main']);
      // Versions of one crate were published through different nodes: each is one line, none lost; the bytes are the sparse index's.
      for (const name of ['crate0', 'crate1', 'other0', 'other5']) {
        const file = `${name.slice(0, 2)}/${name.slice(2, 4)}/${name}`;
        const body = fs.readFileSync(path.join(clone, file), 'utf8');
        expect(body).toBe(await (await fetch(`${url(2)}${view.replace('/git/index', '/index')}/${file}`)).text());
        if (name === 'crate0') expect(body.trim().split('\n')).toHaveLength(3);
      }
    }
  });

  it('rebuilds a deleted cache with the same commit ids, on a running node and on a stopped one', async () => {
    const views: Array<[string, string]> = [
      ['/julia/Team.git', 'master'],
      ['/moonbit/git/index', 'main'],
      ['/moon-all/git/index', 'main'],
      ['/moon-up/git/index', 'main'],
      ['/cargo/git/index', 'main'],
      ['/cargo-all/git/index', 'main'],
    ];
    const expected = [];
    for (const [p, branch] of views) expected.push(await expectSameIds(p, branch));
    const caches = (data: string) => ['julia-git', 'git-history', 'git-upstream'].map((d) => path.join(data, d));

    for (const dir of caches(cluster.nodes[1]!.data)) fs.rmSync(dir, { recursive: true, force: true });
    for (const [i, [p]] of views.entries()) expect(await lsRemote(`${url(1)}${p}`)).toEqual(expected[i]);

    await cluster.nodes[2]!.serve.stop();
    for (const dir of caches(cluster.nodes[2]!.data)) fs.rmSync(dir, { recursive: true, force: true });
    await cluster.restart(2);
    for (const [i, [p]] of views.entries()) expect(await lsRemote(`${url(2)}${p}`)).toEqual(expected[i]);
  });
});
