/**
 * Where the test run's initialised data directory is (set by test/support/global-setup.ts). A server started
 * from a copy of it skips `initdb`, which costs seconds per server; without it each server runs `initdb`.
 */
export const PG_TEMPLATE_ENV = 'LARDER_TEST_PG_TEMPLATE';
