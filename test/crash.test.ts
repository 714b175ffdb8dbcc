/**
 * kill -9 of a real `larder serve` in the middle of concurrent Cargo publishes, on SQLite and on
 * PostgreSQL. After a restart, every publish that was acknowledged (2xx) must be in the sparse
 * index with the checksum of the bytes sent, its download must have that sha256, no index line
 * may point at a missing download, no staging file of the killed process may be left, and
 * `larder verify` finds nothing wrong.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexPath } from '../src/formats/cargo/names.js';
import { sha256Hex, simplePublishBody } from './support/cargo.js';
import { larder } from './support/cli.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { snapshotFiles, tempDir } from './support/tmp.js';

const PUBLISHES = 300;
const CRATES = 30;
const CONCURRENCY = 16;

interface Publish {
  name: string;
  vers: string;
  body: Buffer;
  cksum: string;
}

async function makePublishes(): Promise<Publish[]> {
  const out: Publish[] = [];
  for (let i = 0; i < PUBLISHES; i++) {
    const name = `crash_${i % CRATES}`;
    const vers = `1.0.${Math.floor(i / CRATES)}`;
    // A README of some size, so uploads take long enough to be cut off mid-body.
    const { body, crate } = await simplePublishBody(
      name,
      vers,
      {},
      { files: { 'README.md': `${name} ${vers}\n`.repeat(2000 + (i % 7) * 500) } },
    );
    out.push({ name, vers, body, cksum: sha256Hex(crate) });
  }
  return out;
}

/**
 * Publishes with CONCURRENCY requests in flight and kills the server after `killAfter`
 * acknowledgements; returns what was acknowledged.
 */
async function publishUntilKilled(
  server: ServeProcess,
  publishes: Publish[],
  killAfter: number,
): Promise<{ acked: Publish[]; failed: number }> {
  const acked: Publish[] = [];
  let failed = 0;
  let next = 0;
  let killing: Promise<void> | null = null;
  const worker = async () => {
    while (next < publishes.length && !killing) {
      const p = publishes[next++];
      try {
        const res = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
          method: 'PUT',
          body: new Uint8Array(p.body),
          headers: { authorization: TEST_ADMIN_TOKEN },
        });
        const text = await res.text();
        if (res.ok) acked.push(p);
        else if (!killing) throw new Error(`publish ${p.name}@${p.vers} answered ${res.status}: ${text}`);
      } catch (err) {
        if (!killing && !(err instanceof TypeError)) throw err;
        failed++;
      }
      if (acked.length >= killAfter && !killing) killing = server.kill();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await (killing ?? server.kill());
  return { acked, failed };
}

async function getBuffer(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

function crashSuite(label: string, database: () => Promise<string>) {
  describe(`kill -9 during concurrent publishes (${label})`, () => {
    it('loses no acknowledged publish, serves no dangling line, and leaves no staging files', async () => {
      const dir = tempDir('larder-crash-');
      const data = path.join(dir.path, 'data');
      const args = ['--database', await database()];
      let server: ServeProcess | null = null;
      try {
        const publishes = await makePublishes();
        server = await startServeProcess({ cwd: dir.path, data, args });
        const killAfter = Math.floor(PUBLISHES * (0.3 + Math.random() * 0.4));
        const { acked, failed } = await publishUntilKilled(server, publishes, killAfter);
        const staging = path.join(data, 'blobs', 'tmp');
        const leftByCrash = Object.keys(snapshotFiles(staging)).length;

        server = await startServeProcess({ cwd: dir.path, data, args, port: server.port });
        // The restarted server probes its blob store (a check-* file in its own staging dir) right after its banner.
        expect(Object.keys(snapshotFiles(staging)).filter((f) => !/\/check-[0-9a-f]{8}$/.test(f))).toEqual([]);

        let verified = 0;
        const lines = new Map<string, Array<{ vers: string; cksum: string }>>();
        for (let c = 0; c < CRATES; c++) {
          const name = `crash_${c}`;
          const res = await getBuffer(`${server.url}/cargo/index/${indexPath(name)}`);
          lines.set(
            name,
            res.status === 200
              ? res.body
                  .toString('utf8')
                  .trim()
                  .split('\n')
                  .map((l) => JSON.parse(l) as { vers: string; cksum: string })
              : [],
          );
        }
        for (const p of acked) {
          const line = lines.get(p.name)!.find((l) => l.vers === p.vers);
          expect(line, `acknowledged ${p.name}@${p.vers} is not in the index`).toBeDefined();
          expect(line!.cksum, `${p.name}@${p.vers}`).toBe(p.cksum);
          verified++;
        }
        let lineCount = 0;
        for (const [name, ls] of lines) {
          for (const l of ls) {
            const dl = await getBuffer(`${server.url}/cargo/api/v1/crates/${name}/${l.vers}/download`);
            expect(dl.status, `${name}@${l.vers} is in the index but its download answers ${dl.status}`).toBe(200);
            expect(sha256Hex(dl.body), `${name}@${l.vers}`).toBe(l.cksum);
            lineCount++;
          }
        }
        // What the crash left unreferenced (committed blobs whose transaction never did) is visible at once.
        const gc = await larder(dir.path, ['gc', '--dry-run', '--grace', '0', '--data', data, ...args]);
        expect(gc.code).toBe(0);
        const orphans = Number(/would remove (\d+) unreferenced blob/.exec(gc.stdout)?.[1]);
        expect(orphans).toBeGreaterThanOrEqual(0);
        const verify = await larder(dir.path, ['verify', '--data', data, ...args]);
        expect(verify.stderr).toBe('');
        expect(verify.code).toBe(0);
        console.log(
          `crash test (${label}): killed after ${acked.length} of ${PUBLISHES} publishes acknowledged (${failed} cut off); ${verified} acknowledged publishes verified, ${lineCount} index lines each with a matching download; ${leftByCrash} staging file(s) left by the kill, 0 after restart; gc --grace 0 finds ${orphans} orphan blob(s)`,
        );
        expect(acked.length).toBeGreaterThanOrEqual(killAfter);
        expect(lineCount).toBeGreaterThanOrEqual(acked.length);
      } finally {
        await server?.stop();
        dir.remove();
      }
    }, 120_000);
  });
}

let pg: TestPostgres | null = null;
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

crashSuite('SQLite', async () => 'sqlite');
crashSuite('PostgreSQL', async () => pg!.newDatabase());
