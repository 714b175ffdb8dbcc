import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etagOf, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

// The fake upstream's own contract, as the proxy tests rely on it (plain fetch, no Larder code).
let up: FakeUpstream;
beforeAll(async () => {
  up = await startFakeUpstream();
});
afterAll(async () => {
  await up?.close();
});

describe('fake upstream', () => {
  it('serves bodies with an ETag, answers If-None-Match and If-Modified-Since with 304, HEAD without a body', async () => {
    up.set('/a', { body: 'hello', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT', headers: { 'content-type': 'text/plain' } });
    const res = await fetch(`${up.url}/a?x=1`);
    expect([res.status, await res.text(), res.headers.get('etag'), res.headers.get('content-type')]).toEqual([
      200,
      'hello',
      etagOf('hello'),
      'text/plain',
    ]);
    expect((await fetch(`${up.url}/a`, { headers: { 'if-none-match': etagOf('hello') } })).status).toBe(304);
    expect((await fetch(`${up.url}/a`, { headers: { 'if-modified-since': 'Tue, 01 Dec 2026 10:00:00 GMT' } })).status).toBe(304);
    const head = await fetch(`${up.url}/a`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), await head.text()]).toEqual([200, '5', '']);
    expect(up.hits('/a')).toBe(4);
    expect((await fetch(`${up.url}/missing`)).status).toBe(404);
    up.set('/a', null);
    expect((await fetch(`${up.url}/a`)).status).toBe(404);
  });

  it('plays a sequence of responses, the last one repeating, and faults for a number of requests', async () => {
    up.set('/s', [{ body: 'one' }, { body: 'two', etag: false }]);
    up.fault('/s', { kind: 'status', status: 429, headers: { 'retry-after': '7' } }, { times: 1 });
    const limited = await fetch(`${up.url}/s`);
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '7']);
    expect(await (await fetch(`${up.url}/s`)).text()).toBe('one');
    const two = await fetch(`${up.url}/s`);
    expect([await two.text(), two.headers.get('etag')]).toEqual(['two', null]);
    expect(await (await fetch(`${up.url}/s`)).text()).toBe('two');
  });

  it('drops connections, truncates, sends other bytes, and refuses connections while stopped', async () => {
    up.set('/f', { body: 'abcdefgh' });
    up.fault('/f', { kind: 'reset' }, { times: 1 });
    await expect(fetch(`${up.url}/f`)).rejects.toThrow();
    up.fault('/f', { kind: 'truncate' }, { times: 1 });
    await expect(fetch(`${up.url}/f`).then((r) => r.text())).rejects.toThrow();
    up.fault('/f', { kind: 'wrong-bytes', body: 'ABCDEFGH' }, { times: 1 });
    const wrong = await fetch(`${up.url}/f`);
    expect([await wrong.text(), wrong.headers.get('etag')]).toEqual(['ABCDEFGH', etagOf('abcdefgh')]);
    await up.stop();
    await expect(fetch(`${up.url}/f`)).rejects.toThrow();
    await up.start();
    expect(await (await fetch(`${up.url}/f`)).text()).toBe('abcdefgh');
  });

  it('delays headers or the body', async () => {
    up.set('/slow', { body: 'ab' });
    up.fault('*', { kind: 'slow', ms: 300 }, { times: 1 });
    let started = Date.now();
    await (await fetch(`${up.url}/slow`)).text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    up.fault('/slow', { kind: 'slow', ms: 300, stage: 'body' }, { times: 1 });
    started = Date.now();
    const res = await fetch(`${up.url}/slow`);
    const headersAt = Date.now() - started;
    expect(await res.text()).toBe('ab');
    expect(headersAt).toBeLessThan(250);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
  it('forwards a prefix to a handler, with faults before it and nothing while stopped', async () => {
    up.forward('/live/', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.writeHead(201, { 'x-seen': req.url ?? '' }).end(`${req.method} ${body}`));
    });
    const res = await fetch(`${up.url}/live/a%2Fb?service=x`, { method: 'POST', body: 'hi' });
    expect([res.status, res.headers.get('x-seen'), await res.text()]).toEqual([201, '/live/a%2Fb?service=x', 'POST hi']);
    up.fault('/live/x', { kind: 'status', status: 503 }, { times: 1 });
    expect((await fetch(`${up.url}/live/x`)).status).toBe(503);
    expect((await fetch(`${up.url}/live/x`)).status).toBe(201);
    await up.stop();
    await expect(fetch(`${up.url}/live/x`)).rejects.toThrow();
    await up.start();
    expect((await fetch(`${up.url}/live/x`)).status).toBe(201);
  });
});
