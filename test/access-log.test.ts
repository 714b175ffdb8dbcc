/**
 * The request log of a real `larder serve`: one line per request in pino's shape, byte for byte the line the plain
 * template writes (odd characters in ids and URLs escaped as JSON.stringify does), in the order the requests were
 * answered, and none lost when the process stops on SIGTERM with lines still batched.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { accessLine } from '../src/http/access-line.js';
import { simplePublishBody } from './support/cargo.js';
import { TEST_ADMIN_TOKEN } from './support/larder.js';
import { startServeProcess } from './support/serve.js';
import { tempDir } from './support/tmp.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
}

function request(url: string, opts: http.RequestOptions = {}, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, opts, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One request written byte for byte (URLs Node's client would refuse to send); resolves with the status line. */
function rawRequest(port: number, head: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(head));
    let out = '';
    socket.setEncoding('latin1').on('data', (c: string) => (out += c));
    socket.on('end', () => resolve(out.split('\r\n')[0]));
    socket.on('error', reject);
  });
}

interface RequestLine {
  time: number;
  pid: number;
  hostname: string;
  reqId: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  repo: string;
}

describe('the request log of larder serve', () => {
  it('writes one exact line per request, in order, and all of them when stopped with SIGTERM', async () => {
    const dir = tempDir('larder-access-log-');
    try {
      const node = await startServeProcess({ cwd: dir.path, data: `${dir.path}/data`, args: ['--log-level', 'info'] });
      const base = node.url;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const expected: Array<Partial<RequestLine>> = [];
      try {
        const { body } = await simplePublishBody('logged_crate', '1.0.0');
        const published = await request(
          `${base}/cargo/api/v1/crates/new`,
          { method: 'PUT', agent, headers: { authorization: TEST_ADMIN_TOKEN, 'x-request-id': 'publish-1' } },
          body,
        );
        expect(published.status).toBe(200);
        expected.push({ reqId: 'publish-1', method: 'PUT', url: '/cargo/api/v1/crates/new', status: 200, repo: 'cargo' });
        const index = '/cargo/index/lo/gg/logged_crate';
        // The first read fills the cache (the route), the next ones are answered before the router (the fast path).
        const first = await request(`${base}${index}`, { agent, headers: { 'x-request-id': 'read-1' } });
        expect(first.status).toBe(200);
        expected.push({ reqId: 'read-1', method: 'GET', url: index, status: 200, repo: 'cargo' });
        // Ids a client chose: kept when plain (spaces and punctuation but quote and backslash), replaced when they hold a
        // quote, a backslash, a tab or Latin-1 (what an HTTP header can carry): the line holds the id the answer gave.
        for (const sent of ["a b:c/d=e;f(g)'h'", 'say "hi"', 'back\\slash', 'tab\there', 'caf\u00e9 \u00ff', '{"json":1}']) {
          const res = await request(`${base}${index}`, { agent, headers: { 'x-request-id': sent } });
          expect(res.status).toBe(200);
          const reqId = String(res.headers['x-request-id']);
          if (/["\\\t\u0080-\uffff]/.test(sent))
            expect(reqId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          else expect(reqId).toBe(sent);
          expected.push({ reqId, method: 'GET', url: index, status: 200, repo: 'cargo' });
        }
        const etag = String(first.headers.etag);
        expect((await request(`${base}${index}`, { agent, method: 'HEAD', headers: { 'x-request-id': 'head-1' } })).status).toBe(200);
        expected.push({ reqId: 'head-1', method: 'HEAD', url: index, status: 200, repo: 'cargo' });
        expect((await request(`${base}${index}`, { agent, headers: { 'if-none-match': etag, 'x-request-id': 'inm-1' } })).status).toBe(304);
        expected.push({ reqId: 'inm-1', method: 'GET', url: index, status: 304, repo: 'cargo' });
        // Odd URLs, sent as raw bytes (Node's parser refuses bytes above 0x7e there; the unit tests cover any text).
        for (const url of ['/cargo/index/q"u\\o/te', '/nowhere/"', '/cargo/index/x%22y?a="b"\\']) {
          const status = await rawRequest(
            node.port,
            Buffer.from(`GET ${url} HTTP/1.1\r\nHost: x\r\nX-Request-Id: raw\r\nConnection: close\r\n\r\n`, 'latin1'),
          );
          if (!status.startsWith('HTTP/1.1 4')) throw new Error(`${url}: ${status}`);
          expected.push({ reqId: 'raw', method: 'GET', url, status: Number(status.split(' ')[1]) });
        }
        // Many lines still batched when the signal comes: more than one batch, not a whole number of them.
        await Promise.all(
          Array.from({ length: 4 }, async (_, c) => {
            for (let i = 0; i < 50; i++) {
              const reqId = `burst-${c}-${i}`;
              expect((await request(`${base}${index}`, { agent: false, headers: { 'x-request-id': reqId } })).status).toBe(200);
            }
          }),
        );
      } finally {
        agent.destroy();
        await node.stop();
      }
      expect(node.child.exitCode).toBe(0);
      const raw = node
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{"level":30,') && l.endsWith(',"msg":"request"}'));
      const lines = raw.map((l) => JSON.parse(l) as RequestLine);
      // Byte for byte the plain template (JSON.stringify for every string field): what the log always wrote.
      raw.forEach((l, i) => {
        const f = lines[i];
        expect(`${l}\n`).toBe(accessLine({ pid: f.pid, hostname: f.hostname }, f.time, f.reqId, f.method, f.url, f.status, f.ms, f.repo));
      });
      const ordered = lines.filter((l) => !l.reqId.startsWith('burst-'));
      expect(ordered).toHaveLength(expected.length);
      ordered.forEach((l, i) => expect(l).toMatchObject(expected[i]));
      // Every burst request, each client's in its own order.
      for (let c = 0; c < 4; c++) {
        const ids = lines.filter((l) => l.reqId.startsWith(`burst-${c}-`)).map((l) => l.reqId);
        expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => `burst-${c}-${i}`));
      }
      // Times never go back (lines are written in the order they were answered).
      for (let i = 1; i < lines.length; i++) expect(lines[i].time).toBeGreaterThanOrEqual(lines[i - 1].time);
      expect(lines.every((l) => l.pid === node.child.pid && l.ms >= 0)).toBe(true);
    } finally {
      dir.remove();
    }
  });
});
