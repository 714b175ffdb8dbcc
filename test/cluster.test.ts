/**
 * `larder serve --workers 2`: two processes share the port and one SQLite database. A publish
 * answered by one worker is served by the other at once, and concurrent publishes landing on
 * different workers lose nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplePublishBody } from './support/cargo.js';
import { freePort } from './support/net.js';
import { tempDir } from './support/tmp.js';

const TOKEN = 'larder_cluster-test-admin-token-000000';
const dir = tempDir('larder-cluster-');
let child: ChildProcess;
let port: number;

/** One request on a fresh connection, so the kernel's round robin spreads them over the workers. */
function send(method: string, url: string, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        agent: false,
        headers: body ? { authorization: TOKEN, 'content-length': body.length } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  port = await freePort();
  child = spawn(
    process.execPath,
    [
      path.resolve('bin/larder.js'),
      'serve',
      '--data',
      path.join(dir.path, 'data'),
      '--listen',
      `127.0.0.1:${port}`,
      '--workers',
      '2',
      '--log-level',
      'warn',
    ],
    {
      env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('Metrics:')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  expect(out).toContain('(2 worker processes)');
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  dir.remove();
});

describe('several worker processes', () => {
  it('serves a publish from every worker at once, although each had cached the 404', async () => {
    const url = '/cargo/index/cl/us/cluster_crate';
    const before = await Promise.all(Array.from({ length: 8 }, () => send('GET', url)));
    expect(before.map((r) => r.status)).toEqual(Array(8).fill(404));
    const { body } = await simplePublishBody('cluster_crate', '1.0.0');
    expect((await send('PUT', '/cargo/api/v1/crates/new', body)).status).toBe(200);
    const after = await Promise.all(Array.from({ length: 8 }, () => send('GET', url)));
    expect(after.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(new Set(after.map((r) => r.body)).size).toBe(1);
  });

  it('keeps every line when publishes of one crate land on different workers at once', async () => {
    const bodies = await Promise.all(Array.from({ length: 16 }, (_, i) => simplePublishBody('cluster_many', `0.${i}.0`)));
    const results = await Promise.all(bodies.map(({ body }) => send('PUT', '/cargo/api/v1/crates/new', body)));
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(200));
    const index = await send('GET', '/cargo/index/cl/us/cluster_many');
    const versions = index.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).vers)
      .sort();
    expect(versions).toEqual(Array.from({ length: 16 }, (_, i) => `0.${i}.0`).sort());
  });

  it('stops every worker on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(send('GET', '/-/healthz')).rejects.toThrow();
  });
});
