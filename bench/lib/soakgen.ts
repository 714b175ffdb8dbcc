/**
 * Soak load generator, run as its own process: `node --import tsx bench/lib/soakgen.ts job.json`.
 * Mixed Cargo traffic over keep-alive HTTP/1.1: sparse-index reads and downloads of published
 * versions, and publishes of generated crates. `max`: closed loop at a concurrency, to find the
 * throughput; `rate`: an open loop at a fixed rate (latency from when each request was due).
 * Prints one JSON line per interval (SoakInterval) and a last one (SoakDone); every acknowledged
 * publish is appended to `ackFile` as a JSON line, so the caller can verify it afterwards.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { indexPath } from '../../src/formats/cargo/names.js';
import { makeCrate, newCrateJson, publishBody, sha256Hex } from '../../test/support/cargo.js';
import type { CrateVersion } from './crates.js';
import { percentile } from './stats.js';

export type OpKind = 'index' | 'download' | 'publish';

export interface SoakJob {
  url: string;
  token: string;
  mode: 'max' | 'rate';
  /** max: requests in flight; rate: the most connections. */
  concurrency: number;
  /** rate: operations per second. */
  rate: number;
  durationMs: number;
  reportEveryMs: number;
  /** Share of each operation (sums to 1). */
  mix: Record<OpKind, number>;
  /** Published versions to read from; acknowledged publishes join it. */
  pool: CrateVersion[];
  /** Publishes are `{prefix}-{k % names}` at 1.0.{k / names}. */
  prefix: string;
  names: number;
  ackFile: string;
}

export interface ClassStats {
  n: number;
  p50: number;
  p99: number;
}

export interface SoakInterval {
  kind: 'interval';
  /** Date.now() at the end of the interval, and its length. */
  t: number;
  ms: number;
  ops: number;
  classes: Record<OpKind, ClassStats>;
  errors: number;
  /** Operations not sent because too many were waiting for answers (the server fell behind). */
  shed: number;
  samples: string[];
}

export interface SoakDone {
  kind: 'done';
  elapsedMs: number;
  ops: number;
  errors: number;
  shed: number;
  publishes: number;
  classes: Record<OpKind, ClassStats>;
}

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as SoakJob;
const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
const pool = [...job.pool];
const KINDS: OpKind[] = ['index', 'download', 'publish'];
const fresh = () => ({ index: [] as number[], download: [] as number[], publish: [] as number[] });
let interval = { lat: fresh(), errors: 0, shed: 0, samples: [] as string[] };
const total = { lat: fresh(), errors: 0, shed: 0, ops: 0 };
let publishes = 0;
const acks = fs.openSync(job.ackFile, 'a');

let state = 0x9e3779b9;
/** xorshift32 in [0, 1): reproducible runs. */
function random(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
}

function pick(): OpKind {
  const u = random();
  return u < job.mix.index ? 'index' : u < job.mix.index + job.mix.download ? 'download' : 'publish';
}

/** One HTTP request; resolves with the status (or -1) and the body, never rejects. */
function call(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method, agent, headers: body ? { ...headers, 'content-length': String(body.length) } : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', (err) => resolve({ status: -1, body: Buffer.alloc(0), error: String(err) }));
      },
    );
    req.on('error', (err) => resolve({ status: -1, body: Buffer.alloc(0), error: String(err) }));
    req.end(body);
  });
}

function fail(what: string): void {
  interval.errors++;
  total.errors++;
  if (interval.samples.length < 5) interval.samples.push(what.slice(0, 300));
}

/** Runs one operation; `due` is when it should have started (performance.now()), for latency. */
async function op(kind: OpKind, due: number): Promise<void> {
  if (kind === 'publish') {
    const k = publishes++;
    const name = `${job.prefix}-${(k % job.names).toString(36)}`;
    const vers = `1.0.${Math.floor(k / job.names)}`;
    const crate = await makeCrate({ name, vers });
    const res = await call(
      'PUT',
      `${job.url}/cargo/api/v1/crates/new`,
      { authorization: job.token },
      publishBody(newCrateJson({ name, vers }), crate),
    );
    if (res.status === 200) {
      const v = { name, vers, cksum: sha256Hex(crate) };
      fs.writeSync(acks, `${JSON.stringify(v)}\n`);
      pool.push(v);
    } else fail(`publish ${name}@${vers}: ${res.status} ${res.error ?? res.body.toString('utf8', 0, 200)}`);
  } else {
    const v = pool[Math.floor(random() * pool.length)];
    const url =
      kind === 'index' ? `${job.url}/cargo/index/${indexPath(v.name)}` : `${job.url}/cargo/api/v1/crates/${v.name}/${v.vers}/download`;
    const res = await call('GET', url, {});
    if (res.status !== 200) fail(`${kind} ${url}: ${res.status} ${res.error ?? res.body.toString('utf8', 0, 200)}`);
    else if (kind === 'download' && createHash('sha256').update(res.body).digest('hex') !== v.cksum)
      fail(`download ${url}: body does not match the published checksum`);
    else if (kind === 'index' && !res.body.includes(`"vers":"${v.vers}"`)) fail(`index ${url}: no line for ${v.vers}`);
  }
  const ms = performance.now() - due;
  interval.lat[kind].push(ms);
  total.lat[kind].push(ms);
  total.ops++;
}

const stats = (lat: Record<OpKind, number[]>) =>
  Object.fromEntries(KINDS.map((k) => [k, { n: lat[k].length, p50: percentile(lat[k], 50), p99: percentile(lat[k], 99) }])) as Record<
    OpKind,
    ClassStats
  >;

let intervalStart = performance.now();
function report(): void {
  const now = performance.now();
  const line: SoakInterval = {
    kind: 'interval',
    t: Date.now(),
    ms: now - intervalStart,
    ops: KINDS.reduce((n, k) => n + interval.lat[k].length, 0),
    classes: stats(interval.lat),
    errors: interval.errors,
    shed: interval.shed,
    samples: interval.samples,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  interval = { lat: fresh(), errors: 0, shed: 0, samples: [] };
  intervalStart = now;
}

const started = performance.now();
intervalStart = started;
const end = started + job.durationMs;
const reporter = setInterval(report, job.reportEveryMs);
if (job.mode === 'max') {
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end) await op(pick(), performance.now());
    }),
  );
} else {
  // Open loop: operation i is due at started + i / rate; at most 5 s of backlog in flight.
  const cap = Math.max(100, Math.ceil(job.rate * 5));
  let inFlight = 0;
  let sent = 0;
  const running = new Set<Promise<void>>();
  while (performance.now() < end) {
    const now = performance.now();
    while (started + (sent * 1000) / job.rate <= now) {
      const due = started + (sent++ * 1000) / job.rate;
      if (inFlight >= cap) {
        interval.shed++;
        total.shed++;
        continue;
      }
      inFlight++;
      const p = op(pick(), due).finally(() => {
        inFlight--;
        running.delete(p);
      });
      running.add(p);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(running);
}
clearInterval(reporter);
// The last, partial interval (unless the run ended right at a report).
if (performance.now() - intervalStart > 1000) report();
const done: SoakDone = {
  kind: 'done',
  elapsedMs: performance.now() - started,
  ops: total.ops,
  errors: total.errors,
  shed: total.shed,
  publishes,
  classes: stats(total.lat),
};
process.stdout.write(`${JSON.stringify(done)}\n`);
fs.closeSync(acks);
agent.destroy();
