/**
 * Credentials before bodies, over real sockets: a refused upload is answered while the client is
 * still sending (its body is never buffered), and uploads that are accepted share one memory
 * budget ([uploads] memory): past it an upload waits, then gets 503 with Retry-After.
 */
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from './support/cargo.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import { snapshotFiles } from './support/tmp.js';

const REG = '1b2c3d4e-0000-4000-8000-0000000000dd';
let larder: TestLarder;
let zzzToken: string;
let publisher: string;

beforeAll(async () => {
  larder = await startTestLarder({ uploads: { memory: 1024 * 1024, waitMs: 300 } });
  zzzToken = await tokenFor(larder.registry, 'zed', { scopes: ['publish', 'yank'], packagePattern: 'zzz*' });
  publisher = await tokenFor(larder.registry, 'pat', { scopes: ['publish', 'yank'] });
});
afterAll(async () => {
  await larder?.stop();
});

interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Body bytes the client had written when the answer arrived. */
  sentWhenAnswered: number;
}

/**
 * Starts an upload announcing `length` bytes and sends them slowly in 64 KiB chunks, stopping
 * once an answer arrives (or after `stopAfter` bytes, holding the connection open).
 */
function upload(
  method: string,
  urlPath: string,
  headers: Record<string, string>,
  length: number,
  stopAfter = length,
): { answer: Promise<Sent>; abort(): void } {
  const url = new URL(urlPath, larder.url);
  const req = http.request(url, { method, headers: { 'content-length': String(length), ...headers } });
  let sent = 0;
  let answered = false;
  const chunk = Buffer.alloc(64 * 1024, 7);
  const answer = new Promise<Sent>((resolve, reject) => {
    req.on('response', (res) => {
      answered = true;
      const at = sent;
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, sentWhenAnswered: at }));
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
  });
  const pump = () => {
    if (answered || sent >= Math.min(length, stopAfter)) return;
    const n = Math.min(chunk.length, length - sent);
    sent += n;
    req.write(chunk.subarray(0, n), () => setTimeout(pump, 5));
  };
  pump();
  // A deliberate abort is not an error of the test.
  answer.catch(() => {});
  return { answer, abort: () => req.destroy() };
}

async function state() {
  const counts: Record<string, number> = {};
  for (const t of ['audit_log', 'blobs', 'index_docs', 'package_owners'])
    counts[t] = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(larder.registry.db)).rows[0].n);
  return { counts, blobs: snapshotFiles(path.join(larder.data, 'blobs')) };
}

describe('credentials are checked before the body is read', () => {
  const big = 95 * 1024 * 1024;
  const cases: Array<[string, string, string, Record<string, string>, number, string]> = [
    [
      'an anonymous Julia registration',
      'PUT',
      `/julia/api/registries/${REG}/packages`,
      { 'content-type': 'application/gzip' },
      401,
      'AUTH_REQUIRED',
    ],
    [
      'a garbage-token Julia artifact',
      'PUT',
      `/julia/api/registries/${REG}/packages/Foo/artifacts`,
      { 'content-type': 'application/gzip', authorization: 'Bearer nope' },
      401,
      'TOKEN_INVALID',
    ],
    [
      'a zzz*-limited token uploading an artifact of Foo',
      'PUT',
      `/julia/api/registries/${REG}/packages/Foo/artifacts`,
      { 'content-type': 'application/gzip', authorization: '' },
      403,
      'PACKAGE_NOT_PERMITTED',
    ],
    [
      'an anonymous Bazel publish',
      'PUT',
      '/bazel/api/modules/m/1.0.0',
      { 'content-type': 'multipart/form-data; boundary=x' },
      401,
      'AUTH_REQUIRED',
    ],
    ['an anonymous Cargo publish', 'PUT', '/cargo/api/v1/crates/new', {}, 401, ''],
  ];
  for (const [what, method, url, headers, status, code] of cases) {
    it(`answers ${what} with ${status} while the client is still sending, and stores nothing`, async () => {
      const before = await state();
      if (headers.authorization === '') headers.authorization = `Bearer ${zzzToken}`;
      const res = await upload(method, url, headers, big).answer;
      expect(res.status, res.body).toBe(status);
      if (code) expect(JSON.parse(res.body).error.code).toBe(code);
      else expect(JSON.parse(res.body).errors[0].detail).toContain('cargo login');
      expect(res.sentWhenAnswered).toBeLessThan(big / 4);
      expect(await state()).toEqual(before);
    });
  }
});

describe('one memory budget for buffered uploads', () => {
  it('makes an upload that does not fit wait, then answers 503 with Retry-After; nothing is stored', async () => {
    const holder = upload(
      'PUT',
      `/julia/api/registries/${REG}/packages`,
      { 'content-type': 'application/gzip', authorization: `Bearer ${publisher}` },
      900 * 1024,
      64 * 1024,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(larder.registry.uploads.inUse).toBe(900 * 1024);
    const before = await state();
    const started = Date.now();
    const res = await upload(
      'PUT',
      '/bazel/api/modules/m/1.0.0',
      { 'content-type': 'multipart/form-data; boundary=x', authorization: `Bearer ${publisher}` },
      200 * 1024,
    ).answer;
    expect(res.status, res.body).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(res.headers['retry-after']).toBe('1');
    expect(JSON.parse(res.body).error).toMatchObject({
      code: 'UPLOAD_BUDGET_EXHAUSTED',
      message: expect.stringContaining('uploads.memory'),
    });
    expect(larder.registry.uploads.inUse).toBe(900 * 1024);
    expect(await state()).toEqual(before);
    holder.abort();
    await holder.answer.catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    expect(larder.registry.uploads.inUse).toBe(0);
  });

  it('refuses with 413 an upload larger than the whole budget, and with 411 one without Content-Length', async () => {
    const res = await upload(
      'PUT',
      `/julia/api/registries/${REG}/packages`,
      { 'content-type': 'multipart/form-data; boundary=x', authorization: `Bearer ${publisher}` },
      2 * 1024 * 1024,
    ).answer;
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.message).toContain('uploads.memory');
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(new URL(`/julia/api/registries/${REG}/packages`, larder.url), {
        method: 'PUT',
        headers: { 'content-type': 'application/gzip', authorization: `Bearer ${publisher}`, 'transfer-encoding': 'chunked' },
      });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    expect(chunked.status).toBe(411);
    expect(JSON.parse(chunked.body).error.message).toContain('Content-Length');
    expect(larder.registry.uploads.inUse).toBe(0);
  });
});

describe('over HTTP/2', () => {
  let tls: TestLarder;
  beforeAll(async () => {
    tls = await startTestLarder({ tls: true, uploads: { memory: 1024 * 1024, waitMs: 300 } });
  });
  afterAll(async () => {
    await tls?.stop();
  });

  /** One HTTP/2 request that sends `send` bytes of its body and then waits for the answer. */
  async function h2(headers: Record<string, string>, send: number): Promise<{ status: number; body: string }> {
    const client = http2.connect(tls.url, { ca: fs.readFileSync(tls.caCertPath!) });
    try {
      return await new Promise((resolve, reject) => {
        const stream = client.request({ ':method': 'PUT', ':path': `/julia/api/registries/${REG}/packages`, ...headers });
        let status = 0;
        let body = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c) => (body += c));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.write(Buffer.alloc(send, 1));
      });
    } finally {
      client.close();
    }
  }

  it('answers an anonymous upload before its body, and refuses a body without Content-Length (411)', async () => {
    const anonymous = await h2({ 'content-type': 'application/gzip', 'content-length': String(95 * 1024 * 1024) }, 64 * 1024);
    expect(anonymous.status).toBe(401);
    const token = await tokenFor(tls.registry, 'pat', { scopes: ['publish'] });
    const unsized = await h2({ 'content-type': 'application/gzip', authorization: `Bearer ${token}` }, 1024);
    expect(unsized.status, unsized.body).toBe(411);
    expect(tls.registry.uploads.inUse).toBe(0);
  });
});
