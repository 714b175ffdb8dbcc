/** `larder owner list|add|remove` on the data directory of a running server, as its operator would. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { simplePublishBody, tokenFor } from './support/cargo.js';
import { openTestApp, type TestApp } from './support/larder.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/larder.js');
let larder: TestApp;

async function larderCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args, '--data', larder.data], {
      env: { ...process.env, LARDER_CONFIG: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  larder = await openTestApp();
  const alice = await tokenFor(larder.registry, 'alice', { scopes: ['publish'] });
  await larder.registry.auth.createUser('bob');
  const res = await larder.app.inject({
    method: 'PUT',
    url: '/cargo/api/v1/crates/new',
    payload: (await simplePublishBody('owned', '1.0.0')).body,
    headers: { authorization: alice },
  });
  expect(res.statusCode).toBe(200);
});
afterAll(async () => {
  await larder?.stop();
});

it('lists, adds and removes owners; keeps the last one; names what is missing', async () => {
  const list = await larderCli(['owner', 'list', 'cargo', 'owned']);
  expect(list.code, list.stderr).toBe(0);
  expect(list.stdout).toMatch(/^LOGIN\s+NAME\nalice\s*\n$/);
  const add = await larderCli(['owner', 'add', 'cargo', 'owned', 'bob']);
  expect(add.stdout).toBe('added bob; owners of crate `owned`: alice, bob\n');
  const served = await larder.app.inject({ method: 'GET', url: '/-/api/repos/cargo/packages/owned/owners' });
  expect(served.json()).toEqual({ package: 'owned', users: ['alice', 'bob'] });
  const last = await larderCli(['owner', 'remove', 'cargo', 'owned', 'alice', 'bob']);
  expect(last.code).toBe(1);
  expect(last.stderr).toContain('crate `owned` must keep at least one owner');
  expect((await larderCli(['owner', 'remove', 'cargo', 'owned', 'alice'])).stdout).toBe('removed alice; owners of crate `owned`: bob\n');
  const audit = await larder.registry.db
    .selectFrom('audit_log')
    .select(['action', 'user_id', 'detail'])
    .where('action', 'like', 'cargo.owner_%')
    .orderBy('id')
    .execute();
  expect(audit.map((a) => [a.action, a.user_id, JSON.parse(a.detail!).via])).toEqual([
    ['cargo.owner_add', null, 'cli'],
    ['cargo.owner_remove', null, 'cli'],
  ]);
  expect((await larderCli(['owner', 'list', 'nope', 'owned'])).stderr).toContain('there is no repository nope');
  expect((await larderCli(['owner', 'list', 'bazel', 'absent'])).stderr).toContain('repository bazel has no package absent');
});
