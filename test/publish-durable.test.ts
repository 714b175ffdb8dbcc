/**
 * A publish is answered only once the transaction holding it has committed, group commit or not (SQLite groups
 * concurrent publishes into one transaction, registry/group-commit.ts): a real `larder serve` is killed (-9) the moment
 * the first answer of a burst of concurrent publishes arrives, and after a restart every publish answered 200 is in
 * the index with its checksum and can be downloaded. WAL with synchronous=NORMAL: what a COMMIT wrote is in the OS
 * page cache, so it survives the process; a power cut is another matter (NOTES.md).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { indexPath } from '../src/formats/cargo/names.js';
import { sha256Hex, simplePublishBody } from './support/cargo.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

const BURST = 32;

interface Publish {
  name: string;
  vers: string;
  body: Buffer;
  cksum: string;
}

async function burst(round: number): Promise<Publish[]> {
  const out: Publish[] = [];
  for (let i = 0; i < BURST; i++) {
    const name = `durable-${round}-${i % 8}`;
    const vers = `1.0.${Math.floor(i / 8)}`;
    const { body, crate } = await simplePublishBody(name, vers);
    out.push({ name, vers, body, cksum: sha256Hex(crate) });
  }
  return out;
}

/** Sends every publish at once and kills the server as soon as one is answered 200; returns those answered 200. */
async function publishUntilFirstAnswer(server: ServeProcess, publishes: Publish[]): Promise<Publish[]> {
  const acked: Publish[] = [];
  await Promise.all(
    publishes.map(async (p) => {
      try {
        const res = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
          method: 'PUT',
          body: new Uint8Array(p.body),
          headers: { authorization: TEST_ADMIN_TOKEN },
        });
        if (res.ok) {
          acked.push(p);
          // At once, before any other answer is read: nothing after this COMMIT may be needed for it to last.
          server.child.kill('SIGKILL');
        }
        await res.arrayBuffer().catch(() => {});
      } catch {
        // Cut off by the kill: not answered, so nothing is promised about it.
      }
    }),
  );
  await server.kill();
  return acked;
}

describe('publishes answered before a kill -9 (SQLite, group commit)', () => {
  it('are all there after a restart', async () => {
    const dir = tempDir('larder-durable-');
    const data = path.join(dir.path, 'data');
    let server: ServeProcess | null = null;
    try {
      server = await startServeProcess({ cwd: dir.path, data });
      // Concurrent publishes share transactions in this server (the metric shows fewer commits than publishes).
      const warm = await burst(0);
      const answers = await Promise.all(
        warm.map((p) =>
          fetch(`${server!.url}/cargo/api/v1/crates/new`, {
            method: 'PUT',
            body: new Uint8Array(p.body),
            headers: { authorization: TEST_ADMIN_TOKEN },
          }).then((r) => r.status),
        ),
      );
      expect(answers.every((s) => s === 200)).toBe(true);
      const metrics = await (await fetch(`${server.url}/-/metrics`, { headers: { authorization: TEST_ADMIN_TOKEN } })).text();
      const groups = Number(/^larder_sqlite_group_commits_total (\d+)/m.exec(metrics)?.[1]);
      const units = Number(/^larder_sqlite_group_units_total (\d+)/m.exec(metrics)?.[1]);
      expect(units).toBe(BURST);
      expect(groups).toBeLessThan(units);

      let verified = 0;
      for (let round = 1; round <= 3; round++) {
        const acked = await publishUntilFirstAnswer(server, await burst(round));
        expect(acked.length).toBeGreaterThan(0);
        server = await startServeProcess({ cwd: dir.path, data, port: server.port });
        for (const p of acked) {
          const index = await fetch(`${server.url}/cargo/index/${indexPath(p.name)}`);
          expect(index.status, `${p.name} has no index file after the restart`).toBe(200);
          const lines = (await index.text())
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { vers: string; cksum: string });
          expect(lines.find((l) => l.vers === p.vers)?.cksum, `${p.name}@${p.vers} answered 200, then lost`).toBe(p.cksum);
          const dl = await fetch(`${server.url}/cargo/api/v1/crates/${p.name}/${p.vers}/download`);
          expect(dl.status).toBe(200);
          expect(sha256Hex(Buffer.from(await dl.arrayBuffer()))).toBe(p.cksum);
          verified++;
        }
      }
      console.log(
        `publish-durable: ${verified} publishes answered before a kill -9 found after the restart (warm-up: ${units} publishes in ${groups} commits)`,
      );
    } finally {
      await server?.stop();
      dir.remove();
    }
  }, 120_000);
});
