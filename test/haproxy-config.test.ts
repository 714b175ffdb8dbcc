/**
 * docs/deploy/haproxy.cfg, the file the deployment guide tells teams to copy, run by a real HAProxy in
 * front of small stand-in nodes: it is valid, the test harness changes nothing but addresses and
 * timing, only ready nodes get traffic, a database outage (no node ready) still reaches the nodes, a
 * publish whose node drops the connection is replayed, body and all, on another node, and one larger
 * than HAProxy's buffer is forwarded but not replayed, as the file's comment says.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHaproxyConfig, DEPLOY_HAPROXY_CFG, startHaproxy, testHaproxyConfig, type TestHaproxy } from './support/haproxy.js';
import { freePort } from './support/net.js';
import { tempDir } from './support/tmp.js';

const TIMING = { inter: '100ms', fall: 2, rise: 2 };

/** A stand-in node: answers /-/healthz always, /-/readyz with `ready`, and records what it got. */
interface StandIn {
  name: string;
  port: number;
  ready: boolean;
  /** What to do with a PUT: answer it, or close the connection without an answer (a node killed mid-request). */
  onPut: 'answer' | 'drop';
  seen: Array<{ method: string; url: string; body: string }>;
  close(): Promise<void>;
}

async function standIn(name: string): Promise<StandIn> {
  const port = await freePort();
  const node: StandIn = { name, port, ready: true, onPut: 'answer', seen: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/-/healthz') return void res.end('{"status":"ok"}');
      if (req.url === '/-/readyz') {
        res.statusCode = node.ready ? 200 : 503;
        return void res.end();
      }
      node.seen.push({ method: req.method!, url: req.url!, body });
      if (req.method === 'PUT' && node.onPut === 'drop') return void req.socket.destroy();
      res.end(`${name} ${req.method} ${body.length}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  node.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return node;
}

/** One request; a connection closed before the answer is status 0 with the error as text. */
async function send(url: string, method = 'GET', body?: Buffer): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { method, body: body ? new Uint8Array(body) : undefined });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { status: 0, text: String((err as Error).cause ?? err) };
  }
}

let running: { haproxy?: TestHaproxy; nodes: StandIn[] } = { nodes: [] };
afterEach(async () => {
  await running.haproxy?.stop();
  for (const n of running.nodes) await n.close();
  running = { nodes: [] };
});

async function front(count: number): Promise<{ haproxy: TestHaproxy; nodes: StandIn[] }> {
  const nodes: StandIn[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await standIn(`node${i}`));
  running.nodes = nodes;
  const haproxy = await startHaproxy({ servers: nodes, timing: TIMING });
  running.haproxy = haproxy;
  for (const n of nodes) {
    await haproxy.waitForServer('larder_ready', n.name, 'UP');
    await haproxy.waitForServer('larder_live', n.name, 'UP');
  }
  return { haproxy, nodes };
}

describe('docs/deploy/haproxy.cfg', () => {
  it('is a valid HAProxy configuration, as shipped and as the tests run it', () => {
    const shipped = checkHaproxyConfig(DEPLOY_HAPROXY_CFG);
    expect(shipped.output).toContain('Configuration file is valid');
    expect(shipped.code).toBe(0);

    const dir = tempDir('larder-haproxy-check-');
    try {
      const file = path.join(dir.path, 'haproxy.cfg');
      const servers = [
        { name: 'a', port: 1001 },
        { name: 'b', port: 1002 },
      ];
      fs.writeFileSync(
        file,
        testHaproxyConfig(fs.readFileSync(DEPLOY_HAPROXY_CFG, 'utf8'), { port: 1000, servers, dir: dir.path, timing: TIMING }),
      );
      const generated = checkHaproxyConfig(file);
      expect(generated.output).toContain('Configuration file is valid');
      expect(generated.code).toBe(0);
    } finally {
      dir.remove();
    }
  });

  it('is run by the tests with only addresses, the socket, the log target and check timing changed', () => {
    const source = fs.readFileSync(DEPLOY_HAPROXY_CFG, 'utf8');
    const servers = [
      { name: 'n1', port: 2001 },
      { name: 'n2', port: 2002 },
    ];
    const generated = testHaproxyConfig(source, { port: 2000, servers, dir: '/tmp/x', timing: TIMING });
    const changed = /^\s*(bind |server |stats socket |log \/|log stdout|user |group |default-server )/;
    const keep = (text: string) => text.split('\n').filter((l) => !changed.test(l));
    expect(keep(generated)).toEqual(keep(source));
    expect(generated).toContain('    bind 127.0.0.1:2000\n');
    expect(generated).not.toMatch(/^\s*bind .*:80\b/m);
    // Both backends get exactly the test's servers.
    expect(generated.match(/^\s*server .*$/gm)).toEqual([
      '    server n1 127.0.0.1:2001',
      '    server n2 127.0.0.1:2002',
      '    server n1 127.0.0.1:2001',
      '    server n2 127.0.0.1:2002',
    ]);
    expect(generated.match(/^\s*default-server .*$/gm)).toEqual([
      '    default-server check inter 100ms fall 2 rise 2',
      '    default-server check inter 100ms fall 2 rise 2',
    ]);
    expect(source).toMatch(/default-server check inter 2s fall 2 rise 2/);
    // The shipped file keeps what the issue asks of it.
    for (const directive of [
      'option httpchk GET /-/readyz',
      'option httpchk GET /-/healthz',
      'http-check expect status 200',
      'retry-on all-retryable-errors',
      'retries 3',
      'option redispatch 1',
      'option http-buffer-request',
      'use_backend larder_live if { nbsrv(larder_ready) eq 0 }',
      'default_backend larder_ready',
      '# bind :443 ssl crt /etc/haproxy/larder.pem alpn h2,http/1.1',
    ])
      expect(source).toContain(directive);
  });

  it('sends requests only to ready nodes, and to live ones when no node is ready', async () => {
    const { haproxy, nodes } = await front(2);
    nodes[1].ready = false;
    await haproxy.waitForServer('larder_ready', 'node2', 'DOWN');
    expect(await haproxy.serverStates('larder_live')).toEqual({ node1: 'UP', node2: 'UP' });
    for (let i = 0; i < 6; i++) expect(await send(`${haproxy.url}/cargo/index/se/rd/serde`)).toEqual({ status: 200, text: 'node1 GET 0' });
    expect(nodes[1].seen).toEqual([]);

    // A database outage: every node answers /-/readyz 503, yet each still serves what it holds.
    nodes[0].ready = false;
    await haproxy.waitForServer('larder_ready', 'node1', 'DOWN');
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await send(`${haproxy.url}/cargo/index/se/rd/serde`);
      expect(res.status).toBe(200);
      answers.add(res.text);
    }
    expect([...answers].sort()).toEqual(['node1 GET 0', 'node2 GET 0']);

    // Back: node2 alone is ready again, and gets everything.
    nodes[1].ready = true;
    await haproxy.waitForServer('larder_ready', 'node2', 'UP');
    nodes[0].seen.length = 0;
    for (let i = 0; i < 4; i++) expect((await send(`${haproxy.url}/x`)).text).toBe('node2 GET 0');
    expect(nodes[0].seen).toEqual([]);
  });

  it('replays a publish, body and all, on another node when its node drops the connection', async () => {
    const { haproxy, nodes } = await front(3);
    nodes[0].onPut = 'drop';
    const body = Buffer.alloc(100_000, 'crate bytes ');
    // Until node1 has dropped three publishes (each node gets about a third of first attempts).
    for (let i = 0; i < 40 && nodes[0].seen.length < 3; i++) {
      const res = await send(`${haproxy.url}/cargo/api/v1/crates/new`, 'PUT', body);
      expect(res.status).toBe(200);
      expect(res.text).toMatch(new RegExp(`^node[23] PUT ${body.length}$`));
    }
    expect(nodes[0].seen.length).toBe(3);
    // Every attempt carried the whole body, on whichever node it reached.
    for (const a of nodes.flatMap((n) => n.seen))
      expect(a).toEqual({ method: 'PUT', url: '/cargo/api/v1/crates/new', body: body.toString('utf8') });
  });

  it('forwards a publish larger than its buffer, but does not replay it (the config says so)', async () => {
    const { haproxy, nodes } = await front(2);
    const large = Buffer.alloc(400_000, 'a large crate ');
    const res = await send(`${haproxy.url}/cargo/api/v1/crates/new`, 'PUT', large);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(new RegExp(`^node[12] PUT ${large.length}$`));

    for (const n of nodes) n.onPut = 'drop';
    for (const n of nodes) n.seen.length = 0;
    // A small one is tried on a node and then 3 more times (retries 3); the large one once, and the client gets an error.
    const small = await send(`${haproxy.url}/cargo/api/v1/crates/new`, 'PUT', Buffer.from('small crate'));
    expect(small.status).toBeGreaterThanOrEqual(500);
    expect(nodes.flatMap((n) => n.seen).length).toBe(4);
    for (const n of nodes) n.seen.length = 0;
    const dropped = await send(`${haproxy.url}/cargo/api/v1/crates/new`, 'PUT', large);
    // HAProxy answers 502 and may close the connection before the client has sent all of the body.
    expect(dropped.status === 0 || dropped.status >= 500, dropped.text).toBe(true);
    expect(nodes.flatMap((n) => n.seen).length).toBe(1);
  });
});
