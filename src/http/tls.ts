import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as machineHostname } from 'node:os';
import { join, resolve } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { importCjs } from '../core/cjs.js';

export interface SelfSignedTls {
  key: string; // PEM private key of the server certificate
  cert: string; // PEM server certificate (leaf) followed by nothing else
  caCertPath: string; // absolute path of the CA certificate PEM (what users trust: CARGO_HTTP_CAINFO, curl --cacert)
  certPath: string;
  keyPath: string;
  created: boolean; // true when this call generated new files
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_DAYS = 3650;
// Apple rejects TLS server certs valid for more than 398 days, even from a private CA.
const SERVER_VALIDITY_DAYS = 397;
const RENEW_BEFORE_DAYS = 30;
// Back-date notBefore so a client whose clock is slightly behind still accepts a fresh cert.
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

let x509Module: Promise<typeof X509> | undefined;

/** Loads @peculiar/x509 on first use (only self-signed mode needs it), with the Reflect polyfill its DI container requires first. */
function loadX509(): Promise<typeof X509> {
  x509Module ??= import('reflect-metadata')
    .then(() => importCjs(import('@peculiar/x509')))
    .then((x509) => {
      x509.cryptoProvider.set(webcrypto as unknown as Crypto);
      return x509;
    });
  return x509Module;
}

/**
 * Creates (once) a local CA and a server certificate under `dir`, signed by that CA, for the given host names and IPs;
 * reuses them on later starts and re-issues only the server certificate when it is expiring or lacks a requested name.
 */
export async function ensureSelfSignedTls(dir: string, hostnames: string[]): Promise<SelfSignedTls> {
  dir = resolve(dir);
  const paths = {
    caCertPath: join(dir, 'ca.pem'),
    caKeyPath: join(dir, 'ca-key.pem'),
    certPath: join(dir, 'server.pem'),
    keyPath: join(dir, 'server-key.pem'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names = normalizeNames(hostnames);
  const result = (key: string, cert: string, created: boolean): SelfSignedTls => ({
    key,
    cert,
    created,
    caCertPath: paths.caCertPath,
    certPath: paths.certPath,
    keyPath: paths.keyPath,
  });

  let ca = await loadUsableCa(paths.caCertPath, paths.caKeyPath);
  if (ca) {
    const server = await readPair(paths.certPath, paths.keyPath);
    if (server && serverCertUsable(server, ca.x509, names)) return result(server.keyPem, server.certPem, false);
  } else {
    ca = await createCa();
    await writeKey(paths.caKeyPath, ca.keyPem);
    await writeAtomic(paths.caCertPath, ca.certPem, 0o644);
  }

  const server = await issueServerCert(ca, names);
  await writeKey(paths.keyPath, server.keyPem);
  await writeAtomic(paths.certPath, server.certPem, 0o644);
  return result(server.keyPem, server.certPem, true);
}

interface Pair {
  certPem: string;
  keyPem: string;
}
interface Ca extends Pair {
  x509: X509Certificate;
}

/** localhost and both loopback addresses are always included so local tools work without configuration. */
function normalizeNames(hostnames: string[]): string[] {
  const names = [...hostnames, 'localhost', '127.0.0.1', '::1']
    .map((h) => h.trim().replace(/^\[(.*)\]$/, '$1')) // accept "[::1]" as written in URLs
    .filter((h) => h !== '')
    .map((h) => (isIP(h) ? h : h.toLowerCase()));
  return [...new Set(names)];
}

async function readPair(certPath: string, keyPath: string): Promise<Pair | undefined> {
  try {
    return { certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
  } catch {
    return undefined;
  }
}

/** A CA is usable when it parses, matches its key, and outlives a server cert issued today. */
async function loadUsableCa(certPath: string, keyPath: string): Promise<Ca | undefined> {
  const pair = await readPair(certPath, keyPath);
  if (!pair) return undefined;
  try {
    const x509 = new X509Certificate(pair.certPem);
    const ok =
      x509.ca &&
      x509.checkPrivateKey(createPrivateKey(pair.keyPem)) &&
      new Date(x509.validTo).getTime() > Date.now() + (SERVER_VALIDITY_DAYS + 1) * DAY_MS;
    return ok ? { ...pair, x509 } : undefined;
  } catch {
    return undefined;
  }
}

function serverCertUsable(server: Pair, ca: X509Certificate, names: string[]): boolean {
  try {
    const cert = new X509Certificate(server.certPem);
    return (
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(server.keyPem)) &&
      new Date(cert.validTo).getTime() > Date.now() + RENEW_BEFORE_DAYS * DAY_MS &&
      names.every((n) => (isIP(n) ? cert.checkIP(n) : cert.checkHost(n, { wildcards: false })) !== undefined)
    );
  } catch {
    return false;
  }
}

async function createCa(): Promise<Ca> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`Larder local CA (${machineHostname()})`] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: EC_SIGN,
    keys,
    extensions: [
      // pathLen 0: this CA only ever signs leaf certificates.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  return { certPem, keyPem: exportKey(keys.privateKey), x509: new X509Certificate(certPem) };
}

async function issueServerCert(ca: Ca, names: string[]): Promise<Pair> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKeyDer = createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' });
  const caKey = await webcrypto.subtle.importKey('pkcs8', caKeyDer, EC_KEY, false, ['sign']);
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [names[0]!] }], // first requested name, else localhost (see normalizeNames)
    issuer: caCert.subjectName,
    notBefore,
    notAfter: new Date(notBefore.getTime() + SERVER_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: EC_SIGN,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: exportKey(keys.privateKey) };
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

function exportKey(key: CryptoKey): string {
  return KeyObject.from(key as webcrypto.CryptoKey).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** 128 random bits; first byte has the top bit clear (serials must be positive) and is nonzero (minimal DER). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** Private keys get 0600; writing via rename also fixes the mode of a pre-existing, looser file. */
function writeKey(path: string, pem: string): Promise<void> {
  return writeAtomic(path, pem, 0o600);
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode); // `mode` is ignored if a stale tmp file already exists
  await rename(tmp, path);
}
