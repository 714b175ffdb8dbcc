/**
 * Graceful shutdown over real sockets: a draining node says so on /-/readyz while it still
 * serves, requests in flight finish, and only then does the port close. SIGTERM on a real
 * `larder serve` does the same.
 */
import http from 'node:http';
import http2 from 'node:http2';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { simplePublishBody } from './support/cargo.js';
import { startTestLarder, TEST_ADMIN_TOKEN, type TestLarder } from './support/larder.js';
import { startServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: string, opts: http.RequestOptions = {}, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A publish whose body arrives in two halves, the second when `release` resolves. */
function slowPublish(base: string, body: Buffer, release: Promise<void>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/cargo/api/v1/crates/new`,
      { method: 'PUT', headers: { authorization: TEST_ADMIN_TOKEN, 'content-length': body.length }, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, body.length >> 1));
    void release.then(() => req.end(body.subarray(body.length >> 1)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('draining and closing', () => {
  it('answers 503 on /-/readyz while still serving, finishes the request in flight, then closes the port', async () => {
    const larder: TestLarder = await startTestLarder({ timeouts: { drainMs: 600, shutdownMs: 10_000 } });
    try {
      expect((await request(`${larder.url}/-/readyz`)).status).toBe(200);
      const { body } = await simplePublishBody('drained_crate', '1.0.0');
      let release!: () => void;
      const inFlight = slowPublish(larder.url, body, new Promise((r) => (release = r)));
      await sleep(100);
      const stopped = larder.drain();
      const ready = await request(`${larder.url}/-/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ status: 'draining' });
      // Still serving, and asking HTTP/1.1 clients to reconnect (elsewhere, through the load balancer).
      const health = await request(`${larder.url}/-/healthz`);
      expect(health.status).toBe(200);
      expect(health.headers.connection).toBe('close');
      // The upload finishes after the drain period: the port is closed to newcomers by then.
      await sleep(800);
      await expect(request(`${larder.url}/-/healthz`, { agent: false })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      release();
      const published = await inFlight;
      expect(published.status).toBe(200);
      expect(JSON.parse(published.body)).toHaveProperty('warnings');
      await stopped;
    } finally {
      await larder.stop();
    }
  });

  it('cuts what is still in flight at the shutdown deadline', async () => {
    const larder = await startTestLarder({ timeouts: { drainMs: 0, shutdownMs: 300 } });
    const { body } = await simplePublishBody('never_finished', '1.0.0');
    const outcome = slowPublish(larder.url, body, new Promise(() => {})).catch((err: unknown) => err);
    await sleep(100);
    await larder.drain();
    expect(await outcome).toMatchObject({ code: 'ECONNRESET' });
    await larder.stop();
  });

  it('lets an HTTP/2 stream in flight finish after GOAWAY', async () => {
    const larder = await startTestLarder({ tls: true, timeouts: { drainMs: 0, shutdownMs: 10_000 } });
    try {
      const ca = fs.readFileSync(larder.caCertPath!, 'utf8');
      const session = http2.connect(larder.url, { ca });
      const { body } = await simplePublishBody('h2_crate', '1.0.0');
      const stream = session.request({
        ':method': 'PUT',
        ':path': '/cargo/api/v1/crates/new',
        authorization: TEST_ADMIN_TOKEN,
        'content-length': String(body.length),
      });
      stream.write(body.subarray(0, 100));
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        let status = 0;
        let text = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8').on('data', (c: string) => (text += c));
        stream.on('end', () => resolve({ status, body: text }));
        stream.on('error', reject);
      });
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      await sleep(100);
      const stopped = larder.close();
      await goaway;
      stream.end(body.subarray(100));
      expect((await answer).status).toBe(200);
      await stopped;
      session.close();
    } finally {
      await larder.stop();
    }
  });
});

describe('larder serve on SIGTERM', () => {
  it('turns not ready first, keeps serving for the drain period, then exits', async () => {
    const dir = tempDir('larder-sigterm-');
    try {
      const node = await startServeProcess({ cwd: dir.path, data: `${dir.path}/data`, env: { LARDER_TIMEOUTS_DRAIN: '2s' } });
      expect((await request(`${node.url}/-/readyz`)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => node.child.once('exit', (code) => resolve(code)));
      node.child.kill('SIGTERM');
      await sleep(300);
      const ready = await request(`${node.url}/-/readyz`, { agent: false });
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).status).toBe('draining');
      expect((await request(`${node.url}/cargo/index/config.json`, { agent: false })).status).toBe(200);
      expect(await exited).toBe(0);
      await expect(request(`${node.url}/-/healthz`, { agent: false })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      dir.remove();
    }
  });
});
