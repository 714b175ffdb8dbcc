/**
 * Two `larder serve` processes (and CLI commands) on one SQLite data directory: what one
 * commits, the other serves within a second, although it had cached the old answer.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from './support/cargo.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startServeProcess, type ServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const TOKEN = TEST_ADMIN_TOKEN;
const FIXTURE = path.resolve('../shared/fixtures/bcr-sample');
const dir = tempDir('larder-shared-dir-');
const data = path.join(dir.path, 'data');
let a: ServeProcess;
let b: ServeProcess;

beforeAll(async () => {
  a = await startServeProcess({ cwd: dir.path, data });
  b = await startServeProcess({ cwd: dir.path, data });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  dir.remove();
});

async function send(server: ServeProcess, method: string, url: string, body?: Buffer): Promise<{ status: number; body: string }> {
  const res = await fetch(server.url + url, { method, headers: { authorization: TOKEN }, ...(body ? { body: new Uint8Array(body) } : {}) });
  return { status: res.status, body: await res.text() };
}

/** Reads `url` from `server` until `ok` holds, for at most `ms`: the last answer. */
async function eventually(server: ServeProcess, url: string, ok: (r: { status: number; body: string }) => boolean, ms = 1000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await send(server, 'GET', url);
    if (ok(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('two servers on one data directory', () => {
  const line = '/cargo/index/tw/o_/two_procs';

  it('serves a crate published through the other within 1 s, although it had cached the 404', async () => {
    // Cache the absence on both (twice: the second answer comes from the cache).
    for (const s of [a, b, a, b]) expect((await send(s, 'GET', line)).status).toBe(404);
    const { body } = await simplePublishBody('two_procs', '1.0.0');
    expect((await send(a, 'PUT', '/cargo/api/v1/crates/new', body)).status).toBe(200);
    const seen = await eventually(b, line, (r) => r.status === 200);
    expect(seen.status).toBe(200);
    expect(JSON.parse(seen.body)).toMatchObject({ name: 'two_procs', vers: '1.0.0', yanked: false });
  });

  it('shows a version yanked through the other as yanked within 1 s', async () => {
    expect(JSON.parse((await send(b, 'GET', line)).body).yanked).toBe(false);
    expect((await send(a, 'DELETE', '/cargo/api/v1/crates/two_procs/1.0.0/yank')).status).toBe(200);
    const seen = await eventually(b, line, (r) => r.status === 200 && JSON.parse(r.body).yanked === true);
    expect(JSON.parse(seen.body).yanked).toBe(true);
    // And the other way round.
    expect((await send(b, 'PUT', '/cargo/api/v1/crates/two_procs/1.0.0/unyank')).status).toBe(200);
    const back = await eventually(a, line, (r) => r.status === 200 && JSON.parse(r.body).yanked === false);
    expect(JSON.parse(back.body).yanked).toBe(false);
  });

  it('serves what `larder import bazel` wrote while it ran, within 1 s', async () => {
    const source = path.join(dir.path, 'bcr');
    fs.mkdirSync(path.join(source, 'modules'), { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, 'bazel_registry.json'), path.join(source, 'bazel_registry.json'));
    fs.cpSync(path.join(FIXTURE, 'modules/rules_xz'), path.join(source, 'modules/rules_xz'), { recursive: true });
    const url = '/bazel/modules/rules_xz/metadata.json';
    for (const s of [a, b, a, b]) expect((await send(s, 'GET', url)).status).toBe(404);
    await run(process.execPath, [path.resolve('bin/larder.js'), 'import', 'bazel', source, '--data', data], {
      env: { ...process.env, LARDER_CONFIG: '' },
    });
    for (const s of [a, b]) {
      const seen = await eventually(s, url, (r) => r.status === 200);
      expect(seen.status).toBe(200);
      expect(seen.body).toBe(fs.readFileSync(path.join(source, 'modules/rules_xz/metadata.json'), 'utf8'));
    }
  });
});
