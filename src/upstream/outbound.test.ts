import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.js';
import type { OutboundConfig } from '../core/config.js';
import { OUTBOUND_DEFAULTS, resolveOutbound } from '../core/config/outbound.js';
import { LarderError } from '../core/errors.js';
import { ensureSelfSignedTls } from '../http/tls.js';
import { OutboundClient } from './outbound.js';

const SECRET = 'SECRET-BODY-0f3a9';

/** An HTTP server on `host` that counts requests; `route` answers them. */
async function server(host: string, route: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const s = http.createServer((req, res) => {
    srv.hits++;
    route(req, res);
  });
  await new Promise<void>((r) => s.listen(0, host, r));
  const srv = {
    hits: 0,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${(s.address() as AddressInfo).port}`,
    port: (s.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
  return srv;
}

function client(over: Partial<OutboundConfig> = {}): OutboundClient {
  return new OutboundClient({
    ...resolveOutbound(OUTBOUND_DEFAULTS),
    allowPrivate: [],
    caFile: null,
    gitAllowHttp: false,
    timeoutMs: 10_000,
    ...over,
  });
}

/** The LarderError a download fails with. */
async function failure(c: OutboundClient, url: string, maxSize = 1 << 20): Promise<LarderError> {
  try {
    await c.download(url, { maxSize, failCode: 'ARCHIVE_INVALID', what: 'source.json url' });
  } catch (err) {
    expect(err).toBeInstanceOf(LarderError);
    return err as LarderError;
  }
  throw new Error(`expected ${url} to fail`);
}

let target: Awaited<ReturnType<typeof server>>;
let secret: Awaited<ReturnType<typeof server>>;
let front: Awaited<ReturnType<typeof server>>;

beforeAll(async () => {
  target = await server('127.0.0.1', (req, res) => {
    if (req.url === '/big') res.end(Buffer.alloc(2 << 20));
    else if (req.url === '/big-chunked') {
      res.write(Buffer.alloc(1 << 20));
      res.end(Buffer.alloc(1 << 20));
    } else if (req.url === '/status') res.writeHead(418).end(SECRET);
    else if (req.url === '/stall') res.writeHead(200, { 'content-length': '10' }).write('x');
    else res.end(SECRET);
  });
  // An internal service on another loopback address: what a redirect must not reach.
  secret = await server('127.0.0.2', (_req, res) => res.end(SECRET));
  front = await server('127.0.0.1', (req, res) => {
    const hops = Number(new URL(req.url!, 'http://x').searchParams.get('hops') ?? 0);
    if (req.url!.startsWith('/to-secret')) res.writeHead(302, { location: `${secret.url}/` }).end(SECRET);
    else if (req.url!.startsWith('/to-file')) res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    else if (req.url!.startsWith('/loop')) res.writeHead(302, { location: `/loop?hops=${hops + 1}` }).end();
    else res.writeHead(301, { location: `${target.url}/ok` }).end();
  });
});
afterAll(async () => {
  await Promise.all([target?.close(), secret?.close(), front?.close()]);
});

describe('outbound client', () => {
  it('refuses loopback, private and link-local URLs before connecting, naming the rule and the setting', async () => {
    const c = client();
    const cases: Array<[string, RegExp]> = [
      [`${target.url}/`, /its host is a loopback address/],
      [`http://localhost:${target.port}/`, /its host resolves to a loopback address/],
      [`http://[::1]:${target.port}/`, /its host is a loopback address/],
      [`http://[::ffff:127.0.0.1]:${target.port}/`, /its host is a loopback address/],
      [`http://2130706433:${target.port}/`, /its host is a loopback address/], // 127.0.0.1 as one number
      ['http://10.0.0.1/x.tar.gz', /its host is a private address/],
      ['http://169.254.169.254/latest/meta-data/', /its host is a link-local address/],
      ['http://[fd00::1]/x', /private/],
      ['http://100.64.0.1/x', /carrier-grade NAT/],
    ];
    for (const [url, rule] of cases) {
      const e = await failure(c, url);
      expect(e.code, url).toBe('URL_NOT_ALLOWED');
      expect(e.message).toMatch(rule);
      expect(e.message).toMatch(/\[outbound\] allow_private/);
      expect(e.message).not.toContain(SECRET);
    }
    expect(target.hits).toBe(0);
    await c.close();
  });

  it('refuses other schemes', async () => {
    const c = client({ allowPrivate: ['127.0.0.1'] });
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'gopher://127.0.0.1:25/']) {
      const e = await failure(c, url);
      expect(e.code).toBe('URL_NOT_ALLOWED');
      expect(e.message).toMatch(/only http and https URLs are fetched/);
    }
    await c.close();
  });

  it('downloads what the operator allows, by address or by host name', async () => {
    const byAddress = client({ allowPrivate: ['127.0.0.1'] });
    expect((await byAddress.download(`${target.url}/ok`, { maxSize: 100 })).toString()).toBe(SECRET);
    await byAddress.close();
    const byName = client({ allowPrivate: ['localhost'] });
    expect((await byName.download(`http://localhost:${target.port}/ok`, { maxSize: 100 })).toString()).toBe(SECRET);
    expect((await failure(byName, `${target.url}/ok`)).code).toBe('URL_NOT_ALLOWED');
    await byName.close();
  });

  it('follows redirects by hand and checks every hop', async () => {
    const c = client({ allowPrivate: ['127.0.0.1'] });
    expect((await c.download(`${front.url}/`, { maxSize: 100 })).toString()).toBe(SECRET);
    const e = await failure(c, `${front.url}/to-secret`);
    expect(e.code).toBe('URL_NOT_ALLOWED');
    expect(e.message).toMatch(/it redirects to a host that is a loopback address/);
    expect(e.message).not.toMatch(/127\.0\.0\.2|SECRET/);
    expect(secret.hits).toBe(0);
    expect((await failure(c, `${front.url}/to-file`)).message).toMatch(/redirects to a URL that is not http or https/);
    expect((await failure(c, `${front.url}/loop`)).message).toMatch(/redirects more than 5 times/);
    await c.close();
  });

  it('says a download failed without echoing its status or body', async () => {
    const c = client({ allowPrivate: ['127.0.0.1'] });
    const e = await failure(c, `${target.url}/status`);
    expect(e.code).toBe('ARCHIVE_INVALID');
    expect(e.message).toMatch(/did not answer with the file/);
    expect(e.message).not.toMatch(/\b418\b|SECRET|teapot/i);
    const closed = await failure(c, 'http://127.0.0.1:1/x');
    expect(closed.message).toMatch(/the connection failed, timed out or its TLS certificate is not trusted/);
    expect(closed.message).not.toMatch(/ECONNREFUSED/);
    await c.close();
  });

  it('stops reading past the size bound, declared or not', async () => {
    const c = client({ allowPrivate: ['127.0.0.1'] });
    for (const path of ['/big', '/big-chunked']) {
      const e = await failure(c, `${target.url}${path}`, 1 << 20);
      expect(e.code).toBe('ARCHIVE_TOO_LARGE');
      expect(e.message).toMatch(/larger than this registry's 1 MiB limit/);
    }
    await c.close();
  });

  it('gives up after [outbound] timeout', async () => {
    const c = client({ allowPrivate: ['127.0.0.1'], timeoutMs: 500 });
    const started = Date.now();
    expect((await failure(c, `${target.url}/stall`)).message).toMatch(/longer than \[outbound\] timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
    await c.close();
  });

  it('trusts an internal CA only through [outbound] ca_file', async () => {
    const certs = tempDir('larder-outbound-tls-');
    const tls = await ensureSelfSignedTls(certs.path, []);
    const s = https.createServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end('over tls'));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(s.address() as AddressInfo).port}/`;
    try {
      const untrusted = client({ allowPrivate: ['127.0.0.1'] });
      expect((await failure(untrusted, url)).message).toMatch(/ca_file/);
      await untrusted.close();
      const trusted = client({ allowPrivate: ['127.0.0.1'], caFile: tls.caCertPath });
      expect((await trusted.download(url, { maxSize: 100 })).toString()).toBe('over tls');
      await trusted.close();
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
      certs.remove();
    }
  });
});
