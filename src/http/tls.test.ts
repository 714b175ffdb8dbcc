import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSelfSignedTls, type SelfSignedTls } from './tls.js';

// Async on purpose: the servers under test live in this process, so a sync child would deadlock them.
const run = promisify(execFile);
const hasTool = async (tool: string) =>
  run('which', [tool]).then(
    () => true,
    () => false,
  );

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'larder-tls-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function get(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent: false, ...options }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('ensureSelfSignedTls', () => {
  let dir: string;
  let tls: SelfSignedTls;
  let server: https.Server;
  let port: number;

  beforeAll(async () => {
    dir = tempDir();
    tls = await ensureSelfSignedTls(join(dir, 'tls'), ['registry.example.test', '10.9.8.7']);
    server = https.createServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('writes CA and server files with private modes', () => {
    expect(tls.created).toBe(true);
    expect(tls.caCertPath).toBe(join(dir, 'tls', 'ca.pem'));
    expect(tls.certPath).toBe(join(dir, 'tls', 'server.pem'));
    expect(tls.keyPath).toBe(join(dir, 'tls', 'server-key.pem'));
    expect(statSync(join(dir, 'tls')).mode & 0o777).toBe(0o700);
    expect(statSync(tls.keyPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'tls', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(tls.certPath, 'utf8')).toBe(tls.cert);
    expect(readFileSync(tls.keyPath, 'utf8')).toBe(tls.key);
    expect(tls.key).toContain('-----BEGIN PRIVATE KEY-----'); // PKCS#8
    expect(tls.cert.match(/BEGIN CERTIFICATE/g)).toHaveLength(1); // leaf only
  });

  it('issues a CA-signed leaf with the expected SANs and constraints', () => {
    const ca = new X509Certificate(readFileSync(tls.caCertPath));
    const leaf = new X509Certificate(tls.cert);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toMatch(/^CN=Larder local CA \(.+\)$/);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe('CN=registry.example.test');
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // Node reports extendedKeyUsage here
    for (const san of ['DNS:registry.example.test', 'DNS:localhost', 'IP Address:10.9.8.7', 'IP Address:127.0.0.1']) {
      expect(leaf.subjectAltName).toContain(san);
    }
    expect(leaf.checkIP('::1')).toBe('::1');
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000;
    expect(days).toBe(397);
    expect(Date.parse(ca.validTo) - Date.now()).toBeGreaterThan(9.9 * 365 * 86_400_000);
  });

  it('serves HTTPS verifiable with the CA for localhost and 127.0.0.1', async () => {
    const ca = readFileSync(tls.caCertPath);
    await expect(get(`https://localhost:${port}/`, { ca, lookup: loopbackV4 })).resolves.toEqual({ status: 200, body: 'ok' });
    await expect(get(`https://127.0.0.1:${port}/`, { ca })).resolves.toEqual({ status: 200, body: 'ok' });
  });

  it('fails verification without the CA or for a name not in the certificate', async () => {
    await expect(get(`https://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const ca = readFileSync(tls.caCertPath);
    await expect(get(`https://127.0.0.1:${port}/`, { ca, servername: 'other.example.test' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('verifies with the openssl CLI', async (ctx) => {
    if (!(await hasTool('openssl'))) ctx.skip();
    await run('openssl', ['verify', '-CAfile', tls.caCertPath, tls.certPath]);
    await run('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', tls.caCertPath, tls.certPath]);
  });

  it('is accepted by curl --cacert', async (ctx) => {
    if (!(await hasTool('curl'))) ctx.skip();
    const { stdout } = await run('curl', ['-sS', '--fail', '--cacert', tls.caCertPath, `https://127.0.0.1:${port}/`]);
    expect(stdout).toBe('ok');
  });

  it('negotiates h2 via ALPN with http2.createSecureServer', async () => {
    const h2 = http2.createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true }, (_req, res) => res.end('h2'));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const client = http2.connect(`https://localhost:${(h2.address() as AddressInfo).port}`, {
      ca: readFileSync(tls.caCertPath),
      lookup: loopbackV4,
    });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        client.on('error', reject);
        const req = client.request({ ':path': '/' });
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (data += chunk));
        req.on('end', () => resolve(data));
        req.on('error', reject);
      });
      expect(body).toBe('h2');
      expect(client.alpnProtocol).toBe('h2');
    } finally {
      client.close();
      await new Promise((resolve) => h2.close(resolve));
    }
  });

  it('reuses the existing files on a second call', async () => {
    const again = await ensureSelfSignedTls(join(dir, 'tls'), ['registry.example.test', '10.9.8.7']);
    expect(again.created).toBe(false);
    expect(again.cert).toBe(tls.cert);
    expect(again.key).toBe(tls.key);
  });
});

describe('ensureSelfSignedTls renewal', () => {
  const snapshot = (dir: string) => ({
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caKey: readFileSync(join(dir, 'ca-key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
  });

  it('re-issues only the server cert when a new hostname is requested', async () => {
    const dir = tempDir();
    await ensureSelfSignedTls(dir, ['a.example.test']);
    const before = snapshot(dir);
    const next = await ensureSelfSignedTls(dir, ['a.example.test', 'b.example.test']);
    const after = snapshot(dir);
    expect(next.created).toBe(true);
    expect(after.ca).toBe(before.ca);
    expect(after.caKey).toBe(before.caKey);
    expect(after.cert).not.toBe(before.cert);
    const leaf = new X509Certificate(next.cert);
    expect(leaf.checkHost('b.example.test')).toBe('b.example.test');
    expect(leaf.verify(new X509Certificate(after.ca).publicKey)).toBe(true);
    expect(statSync(next.keyPath).mode & 0o777).toBe(0o600);
    // A subset of the names already covered is not a reason to re-issue.
    expect((await ensureSelfSignedTls(dir, ['b.example.test'])).created).toBe(false);
  });

  it('re-issues the server cert from the same CA when it is about to expire', async () => {
    const dir = tempDir();
    await ensureSelfSignedTls(dir, []);
    const before = snapshot(dir);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 380 * 86_400_000); // 17 days before the 397-day leaf expires
      const renewed = await ensureSelfSignedTls(dir, []);
      expect(renewed.created).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    expect(snapshot(dir).ca).toBe(before.ca);
    expect(snapshot(dir).cert).not.toBe(before.cert);
  });

  it('regenerates everything when the CA is broken', async () => {
    const dir = tempDir();
    await ensureSelfSignedTls(dir, []);
    const before = snapshot(dir);
    writeFileSync(join(dir, 'ca.pem'), 'garbage');
    const again = await ensureSelfSignedTls(dir, []);
    expect(again.created).toBe(true);
    const after = snapshot(dir);
    expect(after.ca).not.toBe(before.ca);
    expect(after.caKey).not.toBe(before.caKey);
    expect(new X509Certificate(after.cert).verify(new X509Certificate(after.ca).publicKey)).toBe(true);
  });
});

/** Resolve "localhost" to 127.0.0.1: the test servers listen on IPv4 only, and localhost may resolve to ::1 first. */
function loopbackV4(
  _host: string,
  options: { all?: boolean },
  cb: (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void,
): void {
  if (options.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}
