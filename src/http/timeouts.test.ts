/**
 * Timeouts over real sockets, with short configured values: idle HTTP/2 sessions are closed,
 * stalled uploads are answered 408 (HTTP/1.1 and HTTP/2), and neither a slow but progressing
 * upload nor a long download is cut.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex, simplePublishBody } from '../../test/support/cargo.js';
import { startTestLarder, type TestLarder } from '../../test/support/larder.js';
import { H2 } from './timeouts.js';

const TIMEOUTS = { idleMs: 1000, bodyIdleMs: 1000, headersMs: 5000, requestMs: 20_000 };
// Generous upper bounds: each timeout is 1 s, the machine may be busy.
const WITHIN_MS = 8000;
let h2: TestLarder;
let h1: TestLarder;
let ca: Buffer;

beforeAll(async () => {
  [h2, h1] = await Promise.all([startTestLarder({ tls: true, timeouts: TIMEOUTS }), startTestLarder({ timeouts: TIMEOUTS })]);
  ca = fs.readFileSync(h2.caCertPath!);
});
afterAll(async () => {
  await h2?.stop();
  await h1?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tokenJson = Buffer.from('{"scopes":"read","name":"slow"}');

function connect(): http2.ClientHttp2Session {
  const session = http2.connect(h2.url, { ca });
  session.on('error', () => {});
  return session;
}

interface H2Answer {
  status: number | null;
  body: Buffer;
  /** RST_STREAM code when the server reset the stream. */
  rstCode: number;
}

/** Sends a request whose body `write` produces, and collects the answer (or the reset). */
function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  write: (req: http2.ClientHttp2Stream) => void | Promise<void>,
  read?: (req: http2.ClientHttp2Stream, chunk: Buffer) => void,
): Promise<H2Answer> {
  return new Promise((resolve) => {
    const req = session.request(headers);
    let status: number | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      read?.(req, c);
    });
    req.on('error', () => {});
    // The answer is complete at 'end' (a client still sending sees 'close' only once it stops); a reset may come without one.
    const done = () => resolve({ status, body: Buffer.concat(chunks), rstCode: req.rstCode ?? 0 });
    req.on('end', done);
    req.on('close', done);
    void write(req);
  });
}

/** Resolves with what happened first: the answer, or "no answer" after `ms`. */
function within<T>(p: Promise<T>, ms = WITHIN_MS): Promise<T | 'no answer'> {
  return Promise.race([p, sleep(ms).then(() => 'no answer' as const)]);
}

describe('HTTP/2 constants written out', () => {
  it('are node:http2 own', () => {
    expect(H2).toEqual({
      NO_ERROR: http2.constants.NGHTTP2_NO_ERROR,
      CANCEL: http2.constants.NGHTTP2_CANCEL,
    });
  });
});

describe('HTTP/2', () => {
  it('closes an idle session with GOAWAY after the idle timeout', async () => {
    const session = connect();
    const first = await h2Request(session, { ':path': '/-/healthz' }, (r) => void r.end());
    expect(first.status).toBe(200);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(await within(goaway)).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(await within(closed.then(() => 'closed'))).toBe('closed');
  });

  it('keeps a session open while cached index reads keep coming, and closes it once they stop', async () => {
    const { body } = await simplePublishBody('idle_reads', '1.0.0');
    const session = connect();
    try {
      const put = { ':method': 'PUT', ':path': '/cargo/api/v1/crates/new', authorization: h2.adminToken };
      expect((await h2Request(session, put, (r) => void r.end(body))).status).toBe(200);
      let goaway = false;
      session.once('goaway', () => (goaway = true));
      // 3 s of reads 250 ms apart (the idle timeout is 1 s): each is answered by the fast path, which runs before the
      // session's own stream listener.
      for (let i = 0; i < 12; i++) {
        const read = await h2Request(session, { ':path': '/cargo/index/id/le/idle_reads' }, (r) => void r.end());
        expect(read.status).toBe(200);
        expect(goaway).toBe(false);
        await sleep(250);
      }
      const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
      expect(await within(closed.then(() => 'closed'))).toBe('closed');
      expect(goaway).toBe(true);
    } finally {
      session.destroy();
    }
  });

  it('answers a stalled upload stream 408 (the stream is reset after it)', async () => {
    const session = connect();
    try {
      const answer = h2Request(
        session,
        {
          ':method': 'POST',
          ':path': '/-/api/tokens',
          authorization: `Bearer ${h2.adminToken}`,
          'content-type': 'application/json',
          'content-length': 1_000_000,
        },
        (req) => void req.write(Buffer.alloc(64 * 1024, ' ')),
      );
      const got = await within(answer);
      expect(got).not.toBe('no answer');
      const a = got as H2Answer;
      expect(a.status).toBe(408);
      expect(JSON.parse(a.body.toString())).toMatchObject({
        error: { code: 'REQUEST_TIMEOUT', message: expect.stringContaining('timeouts.body_idle') },
      });
      // Nothing was created from the half-sent body.
      expect((await h2.registry.auth.listTokens()).some((t) => t.name === 'slow')).toBe(false);
    } finally {
      session.destroy();
    }
  });

  it('does not cut a slow upload that keeps sending, nor the session it is on', async () => {
    const session = connect();
    try {
      const answer = await h2Request(
        session,
        { ':method': 'POST', ':path': '/-/api/tokens', authorization: `Bearer ${h2.adminToken}`, 'content-type': 'application/json' },
        async (req) => {
          // 3 s in all, three times the body and idle timeouts, never silent for long.
          for (let i = 0; i < 10; i++) {
            req.write(' ');
            await sleep(300);
          }
          req.end(tokenJson);
        },
      );
      expect(answer.status).toBe(201);
      expect(JSON.parse(answer.body.toString()).token.name).toBe('slow');
    } finally {
      session.destroy();
    }
  });

  it('does not cut a long download while data flows', async () => {
    const { body, crate } = await simplePublishBody('big_download', '1.0.0', {}, { files: { 'data.bin': randomBytes(3 * 1024 * 1024) } });
    const session = connect();
    try {
      const published = await h2Request(
        session,
        { ':method': 'PUT', ':path': '/cargo/api/v1/crates/new', authorization: h2.adminToken },
        (r) => void r.end(body),
      );
      expect(published.status).toBe(200);
      const started = Date.now();
      // A reader that takes ~3 s: the stream is never silent for a whole timeout.
      const download = await h2Request(
        session,
        { ':path': '/cargo/api/v1/crates/big_download/1.0.0/download' },
        (r) => void r.end(),
        (req) => {
          if (Date.now() - started > 3000) return;
          req.pause();
          setTimeout(() => req.resume(), 150);
        },
      );
      expect(download.status).toBe(200);
      expect(sha256Hex(download.body)).toBe(sha256Hex(crate));
    } finally {
      session.destroy();
    }
  });
});

describe('HTTP/1.1', () => {
  function h1Request(
    write: (req: http.ClientRequest) => void | Promise<void>,
    headers: http.OutgoingHttpHeaders,
  ): Promise<{ status: number; body: string } | { error: string }> {
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: new URL(h1.url).port,
          method: 'POST',
          path: '/-/api/tokens',
          agent: false,
          headers: { authorization: `Bearer ${h1.adminToken}`, 'content-type': 'application/json', ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on('error', (err) => resolve({ error: err.message }));
        },
      );
      req.on('error', (err) => resolve({ error: err.message }));
      void write(req);
    });
  }

  it('answers a stalled upload 408 on the TLS server too (ALPN http/1.1)', async () => {
    const got = await within(
      new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
        const req = https.request(
          `${h2.url}/-/api/tokens`,
          {
            method: 'POST',
            ca,
            agent: false,
            headers: { authorization: `Bearer ${h2.adminToken}`, 'content-type': 'application/json', 'content-length': 1_000_000 },
          },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', (err) => resolve({ error: err.message }));
        req.write(Buffer.alloc(64 * 1024, ' '));
      }),
    );
    expect(got).toMatchObject({ status: 408 });
  });

  it('answers a stalled upload 408', async () => {
    const got = await within(h1Request((req) => void req.write(Buffer.alloc(64 * 1024, ' ')), { 'content-length': 1_000_000 }));
    expect(got).toMatchObject({ status: 408 });
    expect(JSON.parse((got as { body: string }).body).error.code).toBe('REQUEST_TIMEOUT');
  });

  it('does not cut a slow upload that keeps sending', async () => {
    const got = await h1Request(
      async (req) => {
        for (let i = 0; i < 10; i++) {
          req.write(' ');
          await sleep(300);
        }
        req.end(tokenJson);
      },
      { 'transfer-encoding': 'chunked' },
    );
    expect(got).toMatchObject({ status: 201 });
  });
});

describe('HTTP/2 request deadline', () => {
  let short: TestLarder;
  beforeAll(async () => {
    short = await startTestLarder({ tls: true, timeouts: { ...TIMEOUTS, requestMs: 1500 } });
  });
  afterAll(async () => {
    await short?.stop();
  });

  it('answers 408 when an upload that keeps trickling is not complete within timeouts.request', async () => {
    const session = http2.connect(short.url, { ca: fs.readFileSync(short.caCertPath!) });
    session.on('error', () => {});
    let sending = true;
    try {
      const got = await within(
        h2Request(
          session,
          { ':method': 'POST', ':path': '/-/api/tokens', authorization: `Bearer ${short.adminToken}`, 'content-type': 'application/json' },
          async (req) => {
            while (sending && !req.destroyed) {
              req.write(' ');
              await sleep(200);
            }
          },
        ),
      );
      expect(got).toMatchObject({ status: 408 });
      expect(JSON.parse((got as H2Answer).body.toString()).error.message).toContain('timeouts.request');
    } finally {
      sending = false;
      session.destroy();
    }
  });
});
