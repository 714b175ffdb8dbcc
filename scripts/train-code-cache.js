// Trains bin/larder.js's V8 code cache at build time: `larder serve` on a scratch data directory, a few requests, then
// SIGTERM; the process writes what V8 compiled on its way out. The first start creates the database (migrations) and
// its cache is dropped; the second is a start like every later one (issue 14, cold start).
import { spawn } from 'node:child_process';
import console from 'node:console';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

/** Paths requested once the server answers: an index file (through Fastify's router, then cached), a miss, health. */
const REQUESTS = ['/-/healthz', '/cargo/index/config.json', '/cargo/index/la/rd/larder-train', '/cargo/index/la/rd/larder-train'];

/**
 * Writes `<file>.<build>.<v8 tag>.cache` for every pack and chunk a start of `larder serve` loads by running the CLI
 * twice; removes any cache a failed run left.
 */
export async function trainCodeCache(bundle) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-train-'));
  // Beside the bundle, and in packs/.
  const caches = () =>
    fs
      .readdirSync(path.dirname(bundle), { recursive: true })
      .filter((f) => f.endsWith('.cache'))
      .map((f) => path.join(path.dirname(bundle), f));
  try {
    for (let run = 0; run < 2; run++) {
      for (const f of caches()) fs.rmSync(f);
      await serveOnce(dir);
    }
    if (caches().length === 0) throw new Error(`training left no code cache beside ${bundle}`);
  } catch (err) {
    for (const f of caches()) fs.rmSync(f);
    // A build without a cache still works: the first start writes one.
    console.warn(`code cache not trained: ${err.message}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function serveOnce(dir) {
  const port = await freePort();
  // Defaults only (a developer's LARDER_* or NODE_OPTIONS would train another start than the usual one).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LARDER_') && k !== 'NODE_OPTIONS'));
  Object.assign(env, { LARDER_CONFIG: '', LARDER_TIMEOUTS_DRAIN: '0' });
  const child = spawn(process.execPath, ['bin/larder.js', 'serve', '--data', dir, '--listen', `127.0.0.1:${port}`, '--tls', 'off'], {
    env,
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const deadline = Date.now() + 60_000;
    while ((await status(port, REQUESTS[0])) !== 200) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('larder serve did not start');
      await sleep(50);
    }
    for (const p of REQUESTS) await status(port, p);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** GETs `p`; the status, or 0 when nothing answers. */
function status(port, p) {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: p }, (res) => res.resume().once('end', () => resolve(res.statusCode ?? 0)))
      .once('error', () => resolve(0));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}
