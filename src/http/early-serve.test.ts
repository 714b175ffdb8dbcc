import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FORMATS } from '../cli/context.js';
import { loadConfig } from '../core/config.js';
import { openRegistry, type Registry } from '../registry/registry.js';
import { inTransaction } from '../registry/tx.js';
import { tempDir } from '../../test/support/tmp.js';
import { createServer } from './server.js';
import { earlyServer } from './early-server.js';
import { ensureSelfSignedTls } from './tls.js';
import type { FormatPlugin } from './format-plugin.js';

const INDEX_LINE = '{"name":"early","vers":"1.0.0","deps":[],"cksum":"00","features":{},"yanked":false}\n';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, p: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A registry with one Cargo index file, and Bazel's routes held until `release()` (the router is not ready before). */
async function held(): Promise<{ registry: Registry; formats: FormatPlugin[]; release: () => void }> {
  const dir = tempDir('larder-early-');
  cleanups.push(() => dir.remove());
  const config = loadConfig({ cwd: dir.path, env: {}, overrides: { data: path.join(dir.path, 'data'), database: 'sqlite' } });
  const registry = await openRegistry(config, FORMATS);
  cleanups.push(() => registry.close());
  await inTransaction(registry, (uow) => registry.docs.put(uow, registry.repos.get('cargo')!.id, 'ea/rl/early', Buffer.from(INDEX_LINE)));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const formats = FORMATS.map((f) =>
    f.format === 'bazel' ? { ...f, routes: async (...args: Parameters<FormatPlugin['routes']>) => (await gate, f.routes(...args)) } : f,
  );
  return { registry, formats, release };
}

describe('a server listening before its routes are registered', () => {
  it('answers index reads at once, holds every other request until the router is ready, then answers it as usual', async () => {
    const { registry, formats, release } = await held();
    const { app, ready } = createServer(registry, formats, { logger: null });
    cleanups.push(() => app.close());
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => app.server.close(() => resolve())));
    const port = (app.server.address() as AddressInfo).port;

    const first = await get(port, '/cargo/index/ea/rl/early');
    expect(first.status).toBe(200);
    expect(first.body).toBe(INDEX_LINE);
    let settled = false;
    const health = get(port, '/-/healthz').finally(() => (settled = true));
    const missing = get(port, '/cargo/index/no/ne/nonesuch').finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);

    release();
    await ready;
    expect((await health).status).toBe(200);
    const notFound = await missing;
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body)).toMatchObject({ errors: [{ detail: expect.stringContaining('nonesuch') }] });
    // The same bytes and headers the route and the fast path give once the server is ready.
    const later = await get(port, '/cargo/index/ea/rl/early');
    expect(later.body).toBe(first.body);
    const strip = ({ date: _d, 'x-request-id': _i, connection: _c, 'keep-alive': _k, ...rest }: http.IncomingHttpHeaders) => rest;
    expect(strip(later.headers)).toEqual(strip(first.headers));
  });

  it('answers held requests 503 when the routes cannot be registered', async () => {
    const { registry, formats, release } = await held();
    release();
    const failing = formats.map((f) =>
      f.format === 'julia'
        ? {
            ...f,
            routes: async () => {
              await new Promise((r) => setTimeout(r, 100));
              throw new Error('no routes today');
            },
          }
        : f,
    );
    const { app, ready } = createServer(registry, failing, { logger: null });
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => app.server.close(() => resolve())));
    const port = (app.server.address() as AddressInfo).port;
    const health = get(port, '/-/healthz');
    await expect(ready).rejects.toThrow('no routes today');
    expect((await health).status).toBe(503);
  });

  it('loads the router once requests stop coming, or at once when one waits for it', async () => {
    const { registry, formats } = await held();
    const early = earlyServer(registry, formats);
    await new Promise<void>((resolve) => early.server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => early.server.close(() => resolve())));
    const port = (early.server.address() as AddressInfo).port;
    // Nothing comes: settled after the quiet time, long before the deadline (the test would time out otherwise).
    await early.settled(10, 10 * 60_000);
    // Index reads answered meanwhile keep it waiting; a request for the router ends the wait.
    const settled = early.settled(60_000, 10 * 60_000);
    expect((await get(port, '/cargo/index/ea/rl/early')).status).toBe(200);
    const health = get(port, '/-/healthz');
    await settled;
    early.failed();
    expect((await health).status).toBe(503);
  });

  it.each(['HTTP/1.1', 'TLS + HTTP/2'])(
    "answers a hosted repo's first index reads on the fast path once routed (%s); a miss the path cannot answer goes to the route",
    async (transport) => {
      const { registry, formats, release } = await held();
      release();
      // What reaches the Cargo routes (Fastify), by URL.
      const routed: string[] = [];
      const counting = formats.map((f) =>
        f.format === 'cargo'
          ? {
              ...f,
              routes: async (...args: Parameters<FormatPlugin['routes']>) => {
                args[0].addHook('onRequest', (req, _reply, done) => {
                  routed.push(req.url);
                  done();
                });
                await f.routes(...args);
              },
            }
          : f,
      );
      const h2 = transport === 'TLS + HTTP/2';
      const tls = h2 ? await ensureSelfSignedTls(path.join(registry.config.data, 'tls'), ['127.0.0.1']) : null;
      const { app, ready } = createServer(registry, counting, { logger: null, tls });
      cleanups.push(() => app.close());
      await ready;
      // HTTP/2 streams given to Node's compatibility layer (request and response objects), by path.
      const compat: string[] = [];
      app.server.on('request', (req: http.IncomingMessage) => compat.push(req.url!));
      await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => app.server.close(() => resolve())));
      const port = (app.server.address() as AddressInfo).port;
      const read = h2 ? h2Reader(port, fs.readFileSync(tls!.caCertPath)) : (p: string) => get(port, p);
      registry.docs.invalidate(registry.repos.get('cargo')!.id, 'ea/rl/early');
      expect(registry.sources.get('cargo')!.peek('ea/rl/early')).toBeUndefined();

      const first = await read('/cargo/index/ea/rl/early');
      expect(first.status).toBe(200);
      expect(first.body).toBe(INDEX_LINE);
      const missing = await read('/cargo/index/no/ne/nonesuch');
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body)).toMatchObject({ errors: [{ detail: expect.stringContaining('nonesuch') }] });
      // The first read never reached the router; the 404, which the fast path does not answer, did.
      expect(routed).toEqual(['/cargo/index/no/ne/nonesuch']);
      // Over HTTP/2 the first read was answered on the raw stream: no request object was made for it.
      if (h2) expect(compat).toEqual(['/cargo/index/no/ne/nonesuch']);
    },
  );
});

/** GETs over one HTTP/2 session (closed after the test). */
function h2Reader(port: number, ca: Buffer): (p: string) => Promise<Answer> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca });
  cleanups.push(() => void session.close());
  return (p) =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':path': p });
      let body = '';
      let status = 0;
      let headers: http.IncomingHttpHeaders = {};
      req.setEncoding('utf8');
      req.on('response', (h) => ((status = Number(h[':status'])), (headers = h as http.IncomingHttpHeaders)));
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve({ status, headers, body }));
      req.on('error', reject);
    });
}
