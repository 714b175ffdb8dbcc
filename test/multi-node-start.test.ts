/**
 * Three `larder serve` nodes started at the same instant on an empty PostgreSQL database (and one S3
 * bucket) all come up — migrations, repositories, the admin bootstrap, each format's first documents
 * and histories — and agree on what they serve; a repository added to larder.toml and rolled out to
 * one node at a time is created once and served by every node that has the new configuration.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { lsRemote, startCluster, type Cluster } from './support/nodes.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startS3, type TestS3 } from './support/s3.js';

const NODES = 3;

/** Every format hosted, a MoonBit group over the hosted index, and a Cargo group with a proxy member (never asked here). */
const CONFIG = `
[outbound]
allow_private = ["127.0.0.1"]

${['cargo', 'bazel', 'julia', 'moonbit', 'brioche'].map((f) => `[[repos]]\nname = "${f}"\nformat = "${f}"\nkind = "hosted"\n`).join('\n')}
[[repos]]
name = "moon-all"
format = "moonbit"
kind = "group"
members = ["moonbit"]

[[repos]]
name = "crates-io"
format = "cargo"
kind = "proxy"
upstream = "http://127.0.0.1:9/"

[[repos]]
name = "crates"
format = "cargo"
kind = "group"
members = ["cargo", "crates-io"]
`;

const ADDED = `${CONFIG}
[[repos]]
name = "bcr-internal"
format = "bazel"
kind = "hosted"

[[repos]]
name = "moon-team"
format = "moonbit"
kind = "hosted"
`;

let postgres: TestPostgres;
let s3: TestS3;
const clusters: Cluster[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
  s3 = await startS3();
});
afterAll(async () => {
  for (const c of clusters) await c.stop();
  await s3?.stop();
  await postgres?.stop();
});

async function get(base: string, path: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(base + path, { headers: token ? { authorization: token } : {} });
  return { status: res.status, body: await res.text() };
}

/** Rows of the shared database, read directly (what every node relies on). */
async function query(url: string, text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/** A cluster started on a fresh database and bucket, with the admin token it can be used with. */
interface Started {
  cluster: Cluster;
  database: string;
  token: string;
}

/**
 * Starts NODES nodes at the same instant on an empty database and checks that they all came up and agree.
 * `preset`: LARDER_ADMIN_TOKEN is set, which every node adopts; otherwise they must generate one initial
 * admin token between them, not one each.
 */
async function startTogether(preset: boolean): Promise<Started> {
  const database = await postgres.newDatabase();
  const cluster = await startCluster({
    database,
    blobs: await s3.newBucketUrl(),
    config: CONFIG,
    nodes: NODES,
    env: preset ? {} : { LARDER_ADMIN_TOKEN: '' },
  });
  clusters.push(cluster);
  const urls = cluster.nodes.map((n) => n.serve.url);

  // One row per repository, one admin user, one admin token.
  const repos = await query(database, 'select name from repos order by name');
  expect(repos.map((r) => r.name)).toEqual(['bazel', 'brioche', 'cargo', 'crates', 'crates-io', 'julia', 'moon-all', 'moonbit']);
  expect(await query(database, "select id from users where login = 'admin'")).toHaveLength(1);
  expect(await query(database, 'select id from tokens')).toHaveLength(1);
  let token = TEST_ADMIN_TOKEN;
  if (!preset) {
    const printed = cluster.nodes.flatMap((n) => n.serve.output().match(/larder_[A-Za-z0-9_-]{32}/g) ?? []);
    expect(printed).toHaveLength(1);
    token = printed[0]!;
  }
  for (const url of urls) {
    const me = await get(url, '/-/api/me', token);
    expect(me.status, me.body).toBe(200);
    expect(JSON.parse(me.body).user.login).toBe('admin');
  }
  // Bazel's first document, written by whichever node came first, is the same bytes everywhere.
  const registryJson = await Promise.all(urls.map((u) => get(u, '/bazel/bazel_registry.json')));
  expect(registryJson.map((r) => r.status)).toEqual(urls.map(() => 200));
  expect(new Set(registryJson.map((r) => r.body)).size).toBe(1);

  // The hosted MoonBit index and its group's union begin on first use: asked of every node at once.
  const hosted = await Promise.all(urls.map((u) => lsRemote(`${u}/moonbit/git/index`)));
  const group = await Promise.all(urls.map((u) => lsRemote(`${u}/moon-all/git/index`)));
  expect(hosted[0]!['refs/heads/main']).toMatch(/^[0-9a-f]{40}$/);
  for (const refs of hosted) expect(refs).toEqual(hosted[0]);
  for (const refs of group) expect(refs).toEqual(group[0]);
  const begun = await query(database, "select g.id from git_history g join repos r on r.id = g.repo_id where r.name = 'moonbit'");
  expect(begun).toHaveLength(1);
  const united = await query(database, "select g.id from git_history g join repos r on r.id = g.repo_id where r.name = 'moon-all'");
  expect(united).toHaveLength(1);
  return { cluster, database, token };
}

// One start of each kind: each start is a race between the nodes, and what one start shows the next would repeat
// (earlier versions ran the preset-token start twice). The rollout test goes on with the generated-token cluster.
describe('nodes started together on an empty database', () => {
  let generated: Started | undefined;

  it('all come up and agree (LARDER_ADMIN_TOKEN given)', { timeout: 180_000 }, async () => {
    await startTogether(true);
  });

  it('all come up and agree (initial admin token generated)', { timeout: 180_000 }, async () => {
    generated = await startTogether(false);
  });

  it(
    'creates a repository rolled out one node at a time once, and serves it from every node that has it',
    { timeout: 240_000 },
    async () => {
      // The cluster of the test before (nodes started together, nothing written since), or a new one if it failed.
      const { cluster, database } = generated ?? (await startTogether(true));
      for (let i = 0; i < NODES; i++) {
        const node = await cluster.restart(i, { config: ADDED });
        expect((await get(node.serve.url, '/bcr-internal/bazel_registry.json')).status).toBe(200);
        // Nodes not yet rolled keep serving what they were configured with, and know nothing of the new repos.
        for (const other of cluster.nodes.slice(i + 1)) {
          expect((await get(other.serve.url, '/bazel/bazel_registry.json')).status).toBe(200);
          expect((await get(other.serve.url, '/bcr-internal/bazel_registry.json')).status).toBe(404);
        }
      }
      const urls = cluster.nodes.map((n) => n.serve.url);
      const docs = await Promise.all(urls.map((u) => get(u, '/bcr-internal/bazel_registry.json')));
      expect(new Set(docs.map((d) => `${d.status} ${d.body}`)).size).toBe(1);
      const indexes = await Promise.all(urls.map((u) => lsRemote(`${u}/moon-team/git/index`)));
      for (const refs of indexes) expect(refs).toEqual(indexes[0]);
      const names = await query(database, "select name from repos where name in ('bcr-internal', 'moon-team') order by name");
      expect(names.map((r) => r.name)).toEqual(['bcr-internal', 'moon-team']);
    },
  );
});
