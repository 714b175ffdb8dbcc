import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { initConfigText } from '../src/core/config.js';
import { parseDuration, type BenchOptions } from './lib/args.js';
import { makeZip } from '../test/support/archives.js';
import { PRESUBMIT_YML } from '../test/support/bazel.js';
import { deflatedZeros, multipartBody, writeJuliaBomb } from './lib/bombs.js';
import { healthStats, startHealthProbe, type HealthStats } from './lib/health.js';
import { request } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, startLarder } from './lib/larder.js';
import type { BenchReport } from './lib/results.js';
import { sampleRss } from './lib/rss.js';
import { median } from './lib/stats.js';

const MiB = 2 ** 20;
const MB = 1e6;
const RSS_GROWTH_LIMIT = 100 * MB;
const HEALTH_P99_LIMIT_MS = 50;
const REGISTRY_UUID = 'a6b1e2c3-0000-4000-8000-00000000ab05';

/** How hard each phase hits: the issue's figures, or `--quick` (only proves the script works). */
interface Scale {
  uploads: number;
  uploadBytes: number;
  juliaBombs: number;
  bazelBombs: number;
  bombBytes: number;
  idleSessions: number;
  /** How long to wait for idle sessions when no timeout is configured. */
  idleWaitMs: number;
}
const FULL: Scale = {
  uploads: 12,
  uploadBytes: 95 * MiB,
  juliaBombs: 3,
  bazelBombs: 2,
  bombBytes: 450 * MiB,
  idleSessions: 200,
  idleWaitMs: 180_000,
};
const QUICK: Scale = {
  uploads: 3,
  uploadBytes: 20 * MiB,
  juliaBombs: 1,
  bazelBombs: 1,
  bombBytes: 40 * MiB,
  idleSessions: 20,
  idleWaitMs: 20_000,
};

interface Outcome {
  what: string;
  status: number;
  ms: number;
  /** Bytes the client had written when the answer came (uploads). */
  sent?: number;
  detail?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * PUTs `bytes` of generated data (one reused random 64 KiB chunk, never the whole body in memory),
 * stopping as soon as the server answers; resolves with the status and how much had been written.
 */
function streamingUpload(url: string, ca: Buffer, bytes: number, headers: Record<string, string>, timeoutMs: number): Promise<Outcome> {
  const chunk = randomBytes(64 * 1024);
  const started = performance.now();
  return new Promise((resolve) => {
    let sent = 0;
    let answered = false;
    let settled = false;
    const finish = (status: number, detail?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ what: 'upload', status, ms: performance.now() - started, sent, detail });
      req.destroy();
    };
    const timer = setTimeout(() => finish(0, `no answer after ${timeoutMs / 1000} s`), timeoutMs);
    const req = https.request(
      url,
      { method: 'PUT', ca, agent: false, headers: { 'content-type': 'application/gzip', 'content-length': String(bytes), ...headers } },
      (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        let body = '';
        res.on('data', (c: Buffer) => (body += body.length < 300 ? c.toString() : ''));
        res.on('end', () => finish(status, body.slice(0, 200)));
        res.on('error', (err) => finish(status, String(err)));
      },
    );
    req.on('error', (err) => finish(answered ? -2 : -1, String(err)));
    const pump = () => {
      while (!answered && !settled && sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered && !settled) req.end();
    };
    pump();
  });
}

/** One request with a prepared body; resolves with status and time (never rejects). */
async function send(what: string, url: string, ca: Buffer, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
  const started = performance.now();
  try {
    const res = await request(url, { method: 'PUT', ca, headers: { ...headers, 'content-length': String(body.length) }, body });
    return { what, status: res.status, ms: performance.now() - started, detail: res.body.toString('utf8', 0, 200) };
  } catch (err) {
    return { what, status: -1, ms: performance.now() - started, detail: String(err) };
  }
}

/** The HTTP/2 idle timeout larder.toml's defaults configure (`larder init` text), if a key names one (`*idle*timeout*`). */
export function configuredIdleTimeout(tomlText = initConfigText()): { ms: number; key: string } | null {
  const found: Array<{ ms: number; key: string }> = [];
  const walk = (node: unknown, prefix: string) => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object') walk(v, key);
      else if (/idle/i.test(key) && /timeout/i.test(key) && (typeof v === 'number' || typeof v === 'string')) {
        const ms = typeof v === 'number' ? (/_ms$/i.test(k) ? v : v * 1000) : parseDuration(v);
        found.push({ ms, key });
      }
    }
  };
  walk(parseToml(tomlText), '');
  // An HTTP/2-specific key wins over a general one.
  return found.find((f) => /http2|h2|session/i.test(f.key)) ?? found[0] ?? null;
}

interface IdleResult {
  connected: number;
  failedToConnect: number;
  closed: number;
  goaways: number;
  /** How long each closed session lived, from its connect to its close, in seconds, shortest first. */
  closeTimes: number[];
  /** Open sessions by second since the last connect. */
  openBySecond: number[];
}

/** Opens `n` HTTP/2 sessions over TLS that then send nothing; follows them until all are closed or `waitMs` passes (exported for checking it against a plain Node server). */
export async function idleSessions(url: string, ca: Buffer, n: number, waitMs: number): Promise<IdleResult> {
  const sessions = Array.from({ length: n }, () => {
    const s = http2.connect(url, { ca });
    const state = { session: s, connected: false, connectedAt: 0, failed: false, closedAt: 0, goaway: false };
    s.on('error', () => (state.failed = !state.connected));
    s.on('goaway', () => (state.goaway = true));
    s.on('close', () => (state.closedAt = Date.now()));
    return state;
  });
  await Promise.all(
    sessions.map(
      (st) =>
        new Promise<void>((resolve) => {
          const done = () => resolve();
          st.session.once('connect', () => ((st.connected = true), (st.connectedAt = Date.now()), done()));
          st.session.once('close', done);
          setTimeout(done, 30_000);
        }),
    ),
  );
  const t0 = Date.now();
  const live = sessions.filter((s) => s.connected);
  const openBySecond: number[] = [];
  while (Date.now() - t0 < waitMs) {
    const open = live.filter((s) => !s.closedAt).length;
    openBySecond.push(open);
    if (open === 0) break;
    await sleep(Math.max(0, t0 + openBySecond.length * 1000 - Date.now()));
  }
  for (const s of sessions) if (!s.closedAt) s.session.destroy();
  const closed = live.filter((s) => s.closedAt && s.closedAt - t0 <= waitMs);
  return {
    connected: live.length,
    failedToConnect: n - live.length,
    closed: closed.length,
    goaways: live.filter((s) => s.goaway).length,
    closeTimes: closed.map((s) => (s.closedAt - s.connectedAt) / 1000).sort((a, b) => a - b),
    openBySecond,
  };
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const mb = (b: number) => (b / MB).toFixed(1);
const statusCounts = (outs: Outcome[]) =>
  Object.entries(outs.reduce<Record<string, number>>((m, o) => ((m[o.status] = (m[o.status] ?? 0) + 1), m), {}))
    .map(([s, c]) => `${c} × ${s === '-1' ? 'conn error' : s === '0' ? 'no answer' : s}`)
    .join(', ');

/**
 * abuse: while a separate process checks /-/healthz every 50 ms and RSS is sampled, 12 anonymous
 * 95 MiB Julia uploads, 5 decompression bombs (Julia tar.gz, Bazel zip) and 200 idle HTTP/2 sessions.
 */
export async function abuse(dir: string, options: BenchOptions): Promise<BenchReport> {
  const scale = options.quick ? QUICK : FULL;
  const loadBefore = os.loadavg()[0];
  const configured = options.idleTimeoutMs !== null ? { ms: options.idleTimeoutMs, key: '--idle-timeout' } : configuredIdleTimeout();
  // With a known timeout, wait for it plus slack; without one, a bounded time (3 min at full scale).
  const idleWaitMs = configured ? Math.round(configured.ms * 1.2 + 15_000) : (options.idleWaitMs ?? scale.idleWaitMs);

  // Bombs are made before the server starts (gzip -9 of 450 MiB takes seconds of CPU).
  process.stderr.write(`abuse: writing ${scale.juliaBombs + scale.bazelBombs} bombs of ${scale.bombBytes / MiB} MiB…\n`);
  const bombs: Array<{ what: string; url: string; headers: Record<string, string>; file: string }> = [];
  const auth = { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` };
  for (let i = 0; i < scale.juliaBombs; i++) {
    const file = path.join(dir, `julia-bomb-${i}.tar.gz`);
    await writeJuliaBomb(file, { name: `AbuseBomb${i}`, uuid: randomUUID(), version: '1.0.0', zeroBytes: scale.bombBytes });
    bombs.push({
      what: 'julia bomb',
      url: `/julia/api/registries/${REGISTRY_UUID}/packages`,
      headers: { ...auth, 'content-type': 'application/gzip' },
      file,
    });
  }
  const zeros = scale.bazelBombs ? await deflatedZeros(scale.bombBytes) : null;
  for (let i = 0; i < scale.bazelBombs; i++) {
    const module = `abuse_bomb_${i}`;
    const moduleText = `module(\n    name = "${module}",\n    version = "1.0.0",\n)\n`;
    const prefix = `${module}-1.0.0`;
    const zip = makeZip([
      { name: `${prefix}/MODULE.bazel`, data: Buffer.from(moduleText) },
      { name: `${prefix}/zeros.bin`, deflated: zeros! },
    ]);
    const { body, contentType } = multipartBody([
      ['MODULE.bazel', moduleText, 'MODULE.bazel'],
      ['archive', zip, `${prefix}.zip`],
      ['strip_prefix', prefix],
      // What the default publish policy (the BCR's) asks of a publish, so the bomb reaches the archive check.
      ['presubmit.yml', PRESUBMIT_YML, 'presubmit.yml'],
    ]);
    const file = path.join(dir, `bazel-bomb-${i}.multipart`);
    fs.writeFileSync(file, body);
    bombs.push({
      what: 'bazel zip bomb',
      url: `/bazel/api/modules/${module}/1.0.0`,
      headers: { ...auth, 'content-type': contentType },
      file,
    });
  }
  // Interleave the two kinds: julia, bazel, julia, bazel, julia.
  const julia = bombs.filter((b) => b.what === 'julia bomb');
  const bazel = bombs.filter((b) => b.what !== 'julia bomb');
  bombs.splice(0, bombs.length, ...julia.flatMap((j, i) => (bazel[i] ? [j, bazel[i]] : [j])), ...bazel.slice(julia.length));
  const bombSizes = bombs.map((b) => fs.statSync(b.file).size);

  const data = path.join(dir, 'larder');
  fs.mkdirSync(data);
  const larder = await startLarder({ data, tls: true });
  const ca = fs.readFileSync(larder.caCertPath!);
  const created = await request(`${larder.url}/julia/api/registries`, {
    method: 'POST',
    ca,
    headers: { ...auth, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ name: 'AbuseRegistry', uuid: REGISTRY_UUID })),
  });
  if (created.status !== 201) throw new Error(`creating the Julia registry failed: ${created.status} ${created.body.toString()}`);

  const phases: Array<{ name: string; from: number; to: number }> = [];
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    process.stderr.write(`abuse: ${name}…\n`);
    const from = Date.now();
    try {
      return await work();
    } finally {
      phases.push({ name, from, to: Date.now() });
    }
  };

  const rss = sampleRss(() => larder.rss());
  const probe = startHealthProbe(larder.url, larder.caCertPath, 50);
  let uploads: Outcome[];
  const bombOutcomes: Outcome[] = [];
  let idle: IdleResult;
  let baselineRss: number;
  try {
    await probe.ready(); // the probe process runs and its connections are open
    await phase('baseline (idle)', () => sleep(options.quick ? 3000 : 5000));
    baselineRss = median(rss.samples.filter((s) => s.t >= phases[0].from).map((s) => s.bytes));
    uploads = await phase(`${scale.uploads} anonymous ${scale.uploadBytes / MiB} MiB uploads`, () =>
      Promise.all(
        Array.from({ length: scale.uploads }, () =>
          streamingUpload(`${larder.url}/julia/api/registries/${REGISTRY_UUID}/packages`, ca, scale.uploadBytes, {}, 300_000),
        ),
      ),
    );
    await sleep(2000);
    await phase(`${bombs.length} decompression bombs`, async () => {
      for (const b of bombs) bombOutcomes.push(await send(b.what, `${larder.url}${b.url}`, ca, b.headers, fs.readFileSync(b.file)));
    });
    await sleep(2000);
    idle = await phase(`${scale.idleSessions} idle HTTP/2 sessions`, () => idleSessions(larder.url, ca, scale.idleSessions, idleWaitMs));
    await sleep(1500); // checks due in the last phase get their answers
  } finally {
    rss.stop();
    await probe.stop();
    await larder.stop();
  }

  const health = new Map<string, HealthStats>(phases.map((p) => [p.name, healthStats(probe.samples, p.from, p.to)]));
  const peak = rss.maxBetween(phases[1]?.from ?? 0);
  const growth = peak - baselineRss;
  const rows: string[][] = [['phase', 'figure', 'value', 'target', 'result']];
  const targets: BenchReport['targets'] = [];
  const check = (phaseName: string, figure: string, value: string, target: string, ok: boolean | null) => {
    rows.push([phaseName, figure, value, target, ok === null ? '' : ok ? 'PASS' : 'FAIL']);
    if (ok !== null) targets.push({ what: `${phaseName}: ${figure} ${value} (target ${target})`, ok });
  };
  check(
    'all',
    'RSS growth (peak − baseline)',
    `${mb(growth)} MB (${mb(baselineRss)} → ${mb(peak)})`,
    '< 100 MB',
    growth < RSS_GROWTH_LIMIT,
  );
  for (const p of phases) {
    const h = health.get(p.name)!;
    const attack = p !== phases[0];
    check(
      p.name,
      'health p50 / p99 / max',
      `${ms(h.p50)} / ${ms(h.p99)} / ${ms(h.max)} ms (${h.n} checks${h.failed ? `, ${h.failed} not 200` : ''})`,
      attack ? 'p99 < 50 ms' : '',
      attack ? h.p99 < HEALTH_P99_LIMIT_MS && h.failed === 0 : null,
    );
    if (attack) check(p.name, 'RSS peak − baseline', `${mb(rss.maxBetween(p.from, p.to) - baselineRss)} MB`, '', null);
  }
  const upName = phases[1].name;
  check(
    upName,
    'answers',
    `${statusCounts(uploads)}; median ${(median(uploads.map((u) => u.ms)) / 1000).toFixed(2)} s, ${(median(uploads.map((u) => u.sent ?? 0)) / MiB).toFixed(1)} MiB written before the answer`,
    'refused (4xx)',
    null,
  );
  check(phases[2].name, 'answers', bombOutcomes.map((b) => `${b.what} ${b.status} in ${(b.ms / 1000).toFixed(2)} s`).join('; '), '', null);
  const lastClose = idle!.closeTimes.at(-1);
  const allClosed = idle!.closed === idle!.connected && idle!.connected > 0;
  const timeoutText = configured ? `${configured.ms / 1000} s (${configured.key})` : 'not configured';
  const inTime = allClosed && (!configured || lastClose! <= configured.ms / 1000 + Math.max(5, configured.ms / 5000));
  check(
    phases[3].name,
    'closed by the server',
    `${idle!.closed} of ${idle!.connected}${allClosed ? `, after ${idle!.closeTimes[0].toFixed(1)}–${lastClose!.toFixed(1)} s idle` : `, ${idle!.connected - idle!.closed} not closed after ${(idleWaitMs / 1000).toFixed(0)} s`}`,
    `all, by the idle timeout: ${timeoutText}`,
    inTime,
  );

  const checkpoints = [0, 5, 10, 30, 60, 90, 120, 150, 180, 240, 300].filter((s) => s < idle!.openBySecond.length);
  return {
    name: options.quick ? 'abuse (--quick)' : 'abuse',
    table: rows,
    targets,
    notes: [
      `Larder with \`--tls self-signed\` (HTTP/2 + HTTP/1.1), SQLite, default limits; RSS of its process from /proc every 100 ms, baseline = median of the ${phases[0].to - phases[0].from} ms idle phase. MB = 10^6 bytes.`,
      `Health: a separate Node process GETs /-/healthz every 50 ms on a fixed schedule over its own keep-alive HTTPS/1.1 connections (latency from when each check was due, so a stall counts every check it delays).`,
      `Uploads: ${scale.uploads} concurrent HTTPS/1.1 PUTs without a token, Content-Type application/gzip, Content-Length ${scale.uploadBytes} (generated data, streamed), to /julia/api/registries/<uuid>/packages; each stops sending when answered.`,
      `Bombs, one after another with the admin token: ${bombs.map((b, i) => `${b.what} (${(bombSizes[i] / 1024).toFixed(0)} KiB)`).join(', ')}, each inflating to ${scale.bombBytes / MiB} MiB of zeros (Julia: registration tarball; Bazel: publish API, zip archive).`,
      `Idle sessions: ${idle!.connected} HTTP/2 sessions over TLS connected (${idle!.failedToConnect} failed), then silent; ${idle!.goaways} got a GOAWAY; waited up to ${(idleWaitMs / 1000).toFixed(0)} s. Open after ${checkpoints.map((s) => `${s} s: ${idle!.openBySecond[s]}`).join(', ')}.`,
      `1-minute load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after.`,
      ...bombOutcomes.map((o) => `${o.what}: ${o.status} ${(o.detail ?? '').replace(/\s+/g, ' ').slice(0, 160)}`.trim()),
      ...uploads
        .filter((o) => o.status < 400 || o.status >= 500)
        .slice(0, 3)
        .map((o) => `upload: ${o.status} ${o.detail ?? ''}`.trim()),
    ],
  };
}
