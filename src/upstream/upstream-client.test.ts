import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../test/support/fake-upstream.js';
import { startForwardProxy } from '../../test/support/forward-proxy.js';
import type { OutboundConfig } from '../core/config.js';
import { OUTBOUND_DEFAULTS, resolveOutbound } from '../core/config/outbound.js';
import { LarderError } from '../core/errors.js';
import { OutboundClient } from './outbound.js';
import type { UpstreamArtifact, UpstreamOptions, UpstreamRequestEvent } from './upstream-client.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let up: FakeUpstream;
const clients: OutboundClient[] = [];

/** An outbound client with quick retries and no proxy from the environment unless `env` says so. */
function outbound(over: Partial<OutboundConfig> = {}, env: NodeJS.ProcessEnv = {}): OutboundClient {
  const c = new OutboundClient({ ...resolveOutbound(OUTBOUND_DEFAULTS), ...over }, { env });
  clients.push(c);
  return c;
}

/** The trusted client of the fake upstream. */
function upstream(over: Partial<OutboundConfig> = {}, opts: Partial<UpstreamOptions> = {}) {
  return outbound(over).upstream(up.url, { trusted: true, retryDelayMs: 10, ...opts });
}

/** The LarderError a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<LarderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    return err as LarderError;
  }
  throw new Error('expected a failure');
}

/** Reads an artifact's body to its end: the bytes, or the error the stream failed with. */
async function drain(a: UpstreamArtifact): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    a.body,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  up = await startFakeUpstream();
});
afterEach(async () => {
  up.clearFaults();
  up.resetHits();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await up?.close();
});

describe('UpstreamClient.get', () => {
  it('gets a document with its validators, says larder/<version>, and passes a 304 through', async () => {
    up.set('/config.json', { body: '{"dl":"x"}', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' });
    const c = upstream();
    const first = await c.get('/config.json', { maxSize: 1000 });
    expect(first).toMatchObject({ status: 200, lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' });
    if (first.status !== 200) throw new Error('unreachable');
    expect(first.body.toString()).toBe('{"dl":"x"}');
    expect(first.etag).toMatch(/^"[0-9a-f]+"$/);
    expect(up.requests.at(-1)?.headers['user-agent']).toBe(`larder/${VERSION}`);
    expect(await c.get('config.json', { maxSize: 1000, ifNoneMatch: first.etag })).toMatchObject({ status: 304, etag: first.etag });
    expect(up.requests.at(-1)?.headers['if-none-match']).toBe(first.etag);
    expect(up.hits('/config.json')).toBe(2);
  });

  it('sees a document change between two requests', async () => {
    up.set('/index/se/rd/serde', [{ body: 'v1' }, { body: 'v1\nv2' }]);
    const c = upstream();
    const a = await c.get('/index/se/rd/serde', { maxSize: 100 });
    const b = await c.get('/index/se/rd/serde', { maxSize: 100, ifNoneMatch: a.status === 200 ? a.etag : undefined });
    expect(b.status === 200 && b.body.toString()).toBe('v1\nv2');
  });

  it('answers 404 as "not there" and never asks again', async () => {
    const c = upstream();
    expect(await c.get('/no/such/crate', { maxSize: 100 })).toEqual({ status: 404 });
    expect(up.hits('/no/such/crate')).toBe(1);
  });

  it('retries 5xx, a dropped connection and a truncated body, then succeeds, reporting each attempt', async () => {
    up.set('/flaky', { body: 'finally' });
    up.fault('/flaky', { kind: 'status', status: 503 }, { times: 1 });
    up.fault('/flaky', { kind: 'reset' }, { times: 1 });
    up.fault('/flaky', { kind: 'truncate' }, { times: 1 });
    const events: UpstreamRequestEvent[] = [];
    const c = upstream({ retries: 3 }, { onRequest: (e) => events.push(e) });
    const doc = await c.get('/flaky', { maxSize: 100 });
    expect(doc.status === 200 && doc.body.toString()).toBe('finally');
    expect(up.hits('/flaky')).toBe(4);
    expect(events.map((e) => e.outcome)).toEqual([503, 'connection', 'connection', 200]);
    expect(events.map((e) => e.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('gives up after [outbound] retries with a 502 naming the upstream and what happened, never its body', async () => {
    up.set('/broken', { body: 'never served' });
    up.fault('/broken', { kind: 'status', status: 500, body: 'SECRET stack trace' });
    const e = await failure(upstream({ retries: 2 }).get('/broken', { maxSize: 100 }));
    expect(e).toMatchObject({ code: 'UPSTREAM_FAILED', status: 502 });
    expect(e.message).toBe(`upstream 127.0.0.1:${up.port}: GET ${up.url}/broken answered 500 (3 attempts)`);
    expect(up.hits('/broken')).toBe(3);
  });

  it('does not retry other client errors', async () => {
    up.set('/private', { status: 403, body: 'SECRET' });
    const e = await failure(upstream().get('/private', { maxSize: 100 }));
    expect(e.code).toBe('UPSTREAM_FAILED');
    expect(e.message).toMatch(/answered 403, which a proxy cannot serve/);
    expect(e.message).not.toContain('SECRET');
    expect(up.hits('/private')).toBe(1);
  });

  it('honours Retry-After on 429, up to a cap', async () => {
    up.set('/busy', { body: 'ok' });
    up.fault('/busy', { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, { times: 1 });
    let started = Date.now();
    expect((await upstream().get('/busy', { maxSize: 100 })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    up.fault('/busy', { kind: 'status', status: 429, headers: { 'retry-after': '3600' } }, { times: 1 });
    started = Date.now();
    expect((await upstream({}, { maxRetryAfterMs: 100 }).get('/busy', { maxSize: 100 })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(up.hits('/busy')).toBe(4);
  });

  it('says the upstream refused the connection when it is down, and works again when it is back', async () => {
    up.set('/up', { body: 'back' });
    await up.stop();
    try {
      const e = await failure(upstream({ retries: 1 }).get('/up', { maxSize: 100 }));
      expect(e).toMatchObject({ code: 'UPSTREAM_FAILED', status: 502 });
      expect(e.message).toMatch(/127\.0\.0\.1:\d+.*the connection was refused \(is the upstream up\?\) \(2 attempts\)/);
    } finally {
      await up.start();
    }
    expect((await upstream().get('/up', { maxSize: 100 })).status).toBe(200);
  });

  it('times out a slow answer with a 504 naming the setting', async () => {
    up.set('/slow', { body: 'late' });
    up.fault('/slow', { kind: 'slow', ms: 10_000 });
    const started = Date.now();
    const e = await failure(upstream({ headersTimeoutMs: 200, retries: 1 }).get('/slow', { maxSize: 100 }));
    expect(e).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 504 });
    expect(e.message).toMatch(/no answer within \[outbound\] headers_timeout \(0\.2 s\) \(2 attempts\)/);
    expect(Date.now() - started).toBeLessThan(5000); // undici checks header timeouts every 0.5 s
    expect(up.hits('/slow')).toBe(2);
  });

  it('fails a body that stays truncated, and one past the size cap without retrying', async () => {
    up.set('/cut', { body: 'x'.repeat(1000) });
    up.fault('/cut', { kind: 'truncate' });
    const cut = await failure(upstream({ retries: 1 }).get('/cut', { maxSize: 10_000 }));
    expect(cut.code).toBe('UPSTREAM_FAILED');
    expect(cut.message).toMatch(/closed before the answer was complete|broke off/);
    up.set('/huge', { body: 'y'.repeat(3000) });
    const big = await failure(upstream().get('/huge', { maxSize: 2048 }));
    expect(big.message).toBe(`upstream 127.0.0.1:${up.port}: GET ${up.url}/huge is larger than the 2 KiB limit`);
    up.set('/huge-chunked', { body: 'y'.repeat(3000), chunked: true });
    expect((await failure(upstream().get('/huge-chunked', { maxSize: 2048 }))).message).toMatch(/larger than the 2 KiB limit/);
    expect(up.hits('/huge')).toBe(1);
    expect(up.hits('/huge-chunked')).toBe(1);
  });

  it('follows redirects of a trusted upstream but fetches only its own origin', async () => {
    up.set('/old', { status: 302, headers: { location: '/new' } });
    up.set('/new', { body: 'moved' });
    const c = upstream();
    const doc = await c.get('/old', { maxSize: 100 });
    expect(doc.status === 200 && doc.body.toString()).toBe('moved');
    const e = await failure(c.get('https://elsewhere.example/x', { maxSize: 100 }));
    expect(e.code).toBe('URL_NOT_ALLOWED');
  });
});

describe('UpstreamClient.stream', () => {
  it('streams an archive, hashing it and checking the promised sha256', async () => {
    const bytes = Buffer.alloc(300_000, 7);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    up.set('/crates/a/1.0.0/download', { body: bytes });
    let seen = 0;
    const a = await upstream().stream('/crates/a/1.0.0/download', { maxSize: 1 << 20, sha256, onChunk: (c) => (seen += c.length) });
    if (a.status !== 200) throw new Error('expected 200');
    expect(a.length).toBe(bytes.length);
    expect(a.digest()).toBeNull();
    expect((await drain(a)).equals(bytes)).toBe(true);
    expect(a.digest()).toEqual({ sha256, size: bytes.length });
    expect(seen).toBe(bytes.length);
    expect(await upstream().stream('/crates/none/download', { maxSize: 100 })).toEqual({ status: 404 });
  });

  it('fails the stream, never ending it short or wrong: truncation, other bytes, a stall, the size cap', async () => {
    const bytes = Buffer.alloc(200_000, 1);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    up.set('/a.tar.gz', { body: bytes });
    const c = upstream({ bodyTimeoutMs: 300 });

    up.fault('/a.tar.gz', { kind: 'truncate', bytes: 50_000 }, { times: 1 });
    let a = await c.stream('/a.tar.gz', { maxSize: 1 << 20 });
    if (a.status !== 200) throw new Error('expected 200');
    let e = await failure(drain(a));
    expect(e.code).toBe('UPSTREAM_FAILED');
    expect(e.message).toMatch(/the connection broke off after \d+ of 200000 bytes; nothing was stored/);
    expect(a.digest()).toBeNull();

    up.fault('/a.tar.gz', { kind: 'wrong-bytes' }, { times: 1 });
    a = await c.stream('/a.tar.gz', { maxSize: 1 << 20, sha256 });
    if (a.status !== 200) throw new Error('expected 200');
    e = await failure(drain(a));
    expect(e.message).toMatch(/does not match the sha256 its index promised/);

    up.fault('/a.tar.gz', { kind: 'slow', stage: 'body', ms: 3000 }, { times: 1 });
    a = await c.stream('/a.tar.gz', { maxSize: 1 << 20 });
    if (a.status !== 200) throw new Error('expected 200');
    e = await failure(drain(a));
    expect(e).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 504 });
    expect(e.message).toMatch(/\[outbound\] body_timeout \(0\.3 s\)/);

    e = await failure(c.stream('/a.tar.gz', { maxSize: 100_000 }));
    expect(e.message).toMatch(/larger than the 97\.66 KiB limit/);
    up.set('/b.tar.gz', { body: bytes, chunked: true });
    a = await c.stream('/b.tar.gz', { maxSize: 100_000 });
    if (a.status !== 200) throw new Error('expected 200');
    expect((await failure(drain(a))).message).toMatch(/larger than the 97\.66 KiB limit/);
    // Every failed stream gave its slot back.
    expect(c.slots.inFlight).toBe(0);
  });

  it('retries before the answer starts', async () => {
    up.set('/r.tar.gz', { body: 'archive' });
    up.fault('/r.tar.gz', { kind: 'status', status: 502 }, { times: 2 });
    const a = await upstream().stream('/r.tar.gz', { maxSize: 100 });
    if (a.status !== 200) throw new Error('expected 200');
    expect((await drain(a)).toString()).toBe('archive');
    expect(up.hits('/r.tar.gz')).toBe(3);
  });
});

describe('per-upstream concurrency', () => {
  it('keeps at most [outbound] concurrency requests in flight; the rest wait their turn', async () => {
    up.set('/doc', { body: 'd' });
    up.fault('*', { kind: 'slow', ms: 150 });
    const o = outbound({ concurrency: 2 });
    const c = o.upstream(up.url, { trusted: true });
    expect(o.upstream(up.url, { trusted: true })).toBe(c); // one client (and one limit) per upstream
    const docs = await Promise.all(Array.from({ length: 6 }, () => c.get('/doc', { maxSize: 10 })));
    expect(docs.every((d) => d.status === 200)).toBe(true);
    expect(up.maxInFlight).toBe(2);
    expect(o.upstream(`${up.url}/`, { trusted: true, concurrency: 5 })).toBe(c);
    up.resetHits();
    const wide = outbound().upstream(up.url, { trusted: true, concurrency: 5 });
    await Promise.all(Array.from({ length: 5 }, () => wide.get('/doc', { maxSize: 10 })));
    expect(up.maxInFlight).toBe(5);
  });

  it('holds a slot while an archive streams', async () => {
    up.set('/big', { body: Buffer.alloc(1000) });
    const c = outbound({ concurrency: 1 }).upstream(up.url, { trusted: true });
    const a = await c.stream('/big', { maxSize: 10_000 });
    let second = false;
    const next = c.get('/big', { maxSize: 10_000 }).then(() => (second = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(second).toBe(false);
    if (a.status === 200) await drain(a);
    await next;
    expect(second).toBe(true);
  });
});

describe('trust and proxies', () => {
  it('applies the address rules to URLs from requests, and not to configured upstreams', async () => {
    up.set('/f', { body: 'file' });
    const checked = outbound().upstream(up.url, { trusted: false, retryDelayMs: 10 });
    const e = await failure(checked.get(`${up.url}/f`, { maxSize: 100 }));
    expect(e.code).toBe('URL_NOT_ALLOWED');
    expect(e.message).toMatch(/its host is a loopback address.*\[outbound\] allow_private/);
    expect(up.hits('/f')).toBe(0);
    expect((await upstream().get('/f', { maxSize: 100 })).status).toBe(200);
    const allowed = outbound({ allowPrivate: ['127.0.0.1'] }).upstream(up.url, { trusted: false, retryDelayMs: 10 });
    expect((await allowed.get(`${up.url}/f`, { maxSize: 100 })).status).toBe(200);
    up.fault('/f', { kind: 'status', status: 500 });
    const quiet = await failure(allowed.get(`${up.url}/f`, { maxSize: 100 }));
    expect(quiet.message).not.toMatch(/\b500\b/);
  });

  it('goes through HTTPS_PROXY/HTTP_PROXY unless NO_PROXY lists the host; URLs from requests never do', async () => {
    const proxy = await startForwardProxy();
    try {
      up.set('/via', { body: 'proxied' });
      const env = { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url };
      const via = outbound({}, env).upstream(up.url, { trusted: true });
      const doc = await via.get('/via', { maxSize: 100 });
      expect(doc.status === 200 && doc.body.toString()).toBe('proxied');
      expect(proxy.targets).toEqual([`127.0.0.1:${up.port}`]);
      expect(up.requests.at(-1)?.headers['user-agent']).toBe(`larder/${VERSION}`);

      const direct = outbound({}, { ...env, NO_PROXY: 'localhost,127.0.0.1' }).upstream(up.url, { trusted: true });
      expect((await direct.get('/via', { maxSize: 100 })).status).toBe(200);
      const checked = outbound({ allowPrivate: ['127.0.0.1'] }, env).upstream(up.url, { trusted: false });
      expect((await checked.get(`${up.url}/via`, { maxSize: 100 })).status).toBe(200);
      expect(proxy.targets).toHaveLength(1);
      expect(up.hits('/via')).toBe(3);
    } finally {
      await proxy.close();
    }
  });
});
