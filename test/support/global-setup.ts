/**
 * Once per `vitest run`: one initialised PostgreSQL data directory that every test server copies
 * (test/support/postgres.ts), instead of each running `initdb`. Removed at the end of the run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initPostgresData, PG_TEMPLATE_ENV } from './postgres.js';
import { tempDir } from './tmp.js';

export default async function setup(): Promise<() => void> {
  // Each Vitest project runs the global setup; the first one's template serves them all.
  if (process.env[PG_TEMPLATE_ENV]) return () => {};
  const dir = tempDir('larder-pg-template-');
  fs.chmodSync(dir.path, 0o777);
  const data = path.join(dir.path, 'data');
  try {
    await initPostgresData(data);
  } catch (err) {
    // Without a template each server runs initdb itself, and only the tests that use PostgreSQL fail.
    process.stderr.write(`no PostgreSQL template for this run: ${err instanceof Error ? err.message : String(err)}\n`);
    dir.remove();
    return () => {};
  }
  // The test workers are forked after this, with this environment.
  process.env[PG_TEMPLATE_ENV] = data;
  return () => {
    delete process.env[PG_TEMPLATE_ENV];
    dir.remove();
  };
}
