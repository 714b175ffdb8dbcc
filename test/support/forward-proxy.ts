/**
 * A tiny forward proxy for tests of HTTPS_PROXY/HTTP_PROXY: it tunnels CONNECT requests (what undici's
 * ProxyAgent sends, for http and https targets alike) and forwards absolute-form GETs, recording
 * which host:port each one asked for.
 */
import http from 'node:http';
import net from 'node:net';

/** A running forward proxy on 127.0.0.1. */
export interface ForwardProxy {
  /** `http://127.0.0.1:PORT` (what HTTPS_PROXY is set to). */
  url: string;
  /** host:port of every tunnel or forwarded request, in order. */
  targets: string[];
  close(): Promise<void>;
}

/** Starts a forward proxy on a free port. */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const targets: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    // Absolute-form request: GET http://host:port/path
    const url = URL.canParse(req.url ?? '') ? new URL(req.url!) : null;
    if (!url) return res.writeHead(400).end('absolute URL expected');
    targets.push(url.host);
    const out = http.request(url, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const [host, port] = (req.url ?? '').split(/:(?=\d+$)/);
    targets.push(req.url ?? '');
    const upstream = net.connect(Number(port), host!.replace(/^\[(.*)\]$/, '$1'), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream).add(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  server.on('connection', (s: net.Socket) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    targets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
