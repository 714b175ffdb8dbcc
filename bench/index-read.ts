import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSelfSignedTls } from '../src/http/tls.js';
import { startBareNode } from './lib/bare-node.js';
import { combineLoads, h2load, type LoadResult } from './lib/h2load.js';
import { request } from './lib/http.js';
import { startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import type { BenchReport } from './lib/results.js';
import { seedCargoIndex, indexFile, versionCount, type IndexFile } from './lib/seed.js';
import { PerfProfiles } from './lib/perf.js';
import { cpuTimes, peakRssOf } from './lib/procs.js';
import { median, pairedRatio, times, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = 10_000;
/** A load run and the server's CPU time per request (µs) during it. */
type Measured = LoadResult & { cpuUs?: number; userUs?: number };
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000);
const CLIENTS = 100;
/** Alternating rounds per server; every figure is the median of its rounds. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * Each round's run of a server is cut into this many slices, taken in turn with the other servers' (BENCH_SLICES):
 * this machine's speed drifts by tens of percent over minutes, so servers measured one after the other were
 * compared at different speeds. Each slice opens its connections anew (100 TLS handshakes over HTTP/2).
 */
const SLICES = Number(process.env.BENCH_SLICES ?? 4);
const SLICE_REQUESTS = Math.ceil(REQUESTS / SLICES / CLIENTS) * CLIENTS;
/** Which servers to run (comma-separated: nginx, bare, larder-1, larder-auto); all by default. For quick runs while developing. */
const SERVERS = new Set((process.env.BENCH_INDEX_SERVERS ?? 'nginx,bare,larder-1,larder-auto').split(','));
/** A directory for `node --cpu-prof` profiles of bare Node and Larder (written when each stops), or none. */
const CPU_PROF = process.env.BENCH_CPU_PROF;
/**
 * Another checkout (its own `npm run build` done) whose Larder runs alongside as `baseline, workers 1`, in the same
 * rounds: an A/B of CPU µs per request against, say, main. Not run unless set.
 */
const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : null;
/** Larder's stdout straight into its log file (as nginx's access log), not copied by this process: BENCH_LOG_PIPE=1 for the pipe. */
const LOG_TO_FILE = process.env.BENCH_LOG_PIPE !== '1';
/** The words of a space-separated environment variable (Node options, NAME=value pairs); none when unset. */
function spaceSeparated(name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter(Boolean);
}
/** Node options for the baseline only (space-separated, e.g. `--max-semi-space-size=64`): an A/B of a V8 setting on one build. */
const BASELINE_NODE_ARGS = spaceSeparated('BENCH_BASELINE_NODE_ARGS');
/** Environment for the baseline only (space-separated NAME=value, e.g. `LARDER_LOG_LEVEL=warn`): an A/B of a setting. */
const BASELINE_ENV = Object.fromEntries(
  spaceSeparated('BENCH_BASELINE_ENV').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
/** Node options for this checkout's Larder (e.g. `--log-deopt --logfile=/tmp/v8-%p.log`): a look inside its process. */
const LARDER_NODE_ARGS = spaceSeparated('BENCH_LARDER_NODE_ARGS');
/** Which transports to run (comma-separated: h2, h1); both by default. For quick runs while developing. */
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'h2,h1').split(',');
/** Node options for bare Node (e.g. `--trace-gc`: what it prints goes to the bench's stderr): the same look at the peer. */
const BARE_NODE_ARGS = spaceSeparated('BENCH_BARE_NODE_ARGS');
/**
 * BENCH_PIN=CPU: h2load on that CPU (bench/lib/h2load.ts) and every one-process server (bare Node, Larder with one
 * worker, the baseline) on the other, so the two never share a core; the multi-process servers are left unpinned.
 */
const PIN = process.env.BENCH_PIN;
/**
 * Every round starts each server afresh (and warms it up): one Node process of the same build and load lands in a fast
 * or a slow steady state (CPU per request 37 vs 56 µs for bare Node's HTTP/2, 30 vs 63 µs for Larder's, in A/A runs of
 * 2026-12-03), so the median of the rounds is the median of several processes. BENCH_SAME_PROCESS=1: one process for
 * every round, as before.
 */
const FRESH_PROCESSES = process.env.BENCH_SAME_PROCESS !== '1';
/**
 * BENCH_PERF=DIR: `perf record` of each one-process server (bare Node, Larder with one worker, the baseline) during its
 * measured slices, summed over the rounds; DIR/<transport>-<kind>-<server>.txt then compares each Larder with bare Node,
 * symbol by symbol, in µs per request (bench/lib/perf.ts).
 */
const PERF = process.env.BENCH_PERF ? new PerfProfiles(path.resolve(process.env.BENCH_PERF)) : null;
/**
 * The one-process servers: all of a server's work is in one pid, so `perf record -p` (BENCH_PERF) sees it, BENCH_PIN can
 * pin it, and its peak RSS is the server's.
 */
const ONE_PROCESS = new Set(['bare', 'larder-1', 'baseline']);
// A directory per server: each thread (tsx's loader thread in bare Node's process too) writes its own file there.
const profArgs = (name: string) => [
  ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.join(CPU_PROF, name)] : []),
  ...(PERF && ONE_PROCESS.has(name.replace(/-h[12]$/, '')) ? PerfProfiles.nodeArgs() : []),
];

/** The commit checked out at `root`, for the notes. */
function baselineCommit(root: string): string {
  const res = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : 'unknown';
}

/** index-read: random index files (Zipf) by 100 connections, Larder against nginx and against a bare Node server. */
export async function indexRead(dir: string): Promise<BenchReport> {
  if (!TRANSPORTS.every((t) => t === 'h2' || t === 'h1'))
    throw new Error(`BENCH_TRANSPORTS: h2, h1 or both (comma-separated), not ${TRANSPORTS.join(',')}`);
  ensureTools(['nginx', 'h2load']);
  if (PERF) PerfProfiles.check();
  const files: IndexFile[] = [];
  for (let i = 0; i < CRATES; i++) files.push(indexFile(`bench-crate-${i.toString(36)}`, versionCount(i)));
  const sizes = files.map((f) => f.body.length).sort((a, b) => a - b);
  const data = path.join(dir, 'larder');
  const nginxRoot = path.join(dir, 'www');
  await seedCargoIndex(data, files, nginxRoot);

  // Hot crates are a random subset, not the first names: popularity is unrelated to size.
  const next = zipfSampler(CRATES, 1.0);
  const order = files.map((_, i) => i).sort((a, b) => ((a * 7919) % CRATES) - ((b * 7919) % CRATES));
  const sample = Array.from({ length: 100_000 }, () => files[order[next()]].path);
  const distinct = [...new Set(sample)];
  const distinctList = (base: string) => {
    const file = path.join(dir, `distinct-${base.replace(/\W/g, '_')}.txt`);
    fs.writeFileSync(file, distinct.map((p) => `${base}/cargo/index/${p}`).join('\n') + '\n');
    return file;
  };
  /**
   * The sample's URLs for slice `slice` of a run. h2load has every connection go through the list from its start, so
   * each slice's list starts where the one before left off: the slices of a run read what one unsliced run reads.
   */
  const uriFiles = new Set<string>();
  const uris = (base: string, slice: number) => {
    const file = path.join(dir, `uris-${base.replace(/\W/g, '_')}-${slice}.txt`);
    // Written once: every round and kind of a server reads the same list (a server's URL is new when it restarts).
    if (uriFiles.has(file)) return file;
    const from = (slice * SLICE_REQUESTS) / CLIENTS;
    const list = [...sample.slice(from), ...sample.slice(0, from)];
    fs.writeFileSync(file, list.map((p) => `${base}/cargo/index/${p}`).join('\n') + '\n');
    uriFiles.add(file);
    return file;
  };

  const rows: string[][] = [
    [
      'transport',
      'server',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'non-200',
      'req/s vs nginx',
      'p99 vs nginx',
      'req/s vs bare Node',
      'p99 vs bare Node',
      'bare CPU ÷ Larder CPU',
    ],
  ];
  const targets: BenchReport['targets'] = [];
  const spread: string[] = [];
  const hot = files[order[0]];

  /**
   * Warms one server up: every distinct file of the sample read once by each process first (one connection per CPU
   * going through the whole list, so each of `workers auto` sees each), as read-paths does: bare Node and nginx hold
   * every file from the start, and a first read of a Zipf-tail file in Larder goes through Fastify and SQLite: with
   * 20,000 warm-up requests alone, those first reads landed in the measured rounds. Then the connections' warm-up.
   */
  const warmUp = async (url: string, tls: boolean) => {
    const cpus = os.availableParallelism();
    await h2load({ uris: distinctList(url), clients: cpus, requests: distinct.length * cpus, h1: !tls, dir });
    await h2load({ uris: uris(url, 0), clients: CLIENTS, requests: 20_000, h1: !tls, dir });
  };
  /** The If-None-Match list of one server: its hot document with the ETag it gives it. */
  const hotList = async (name: string, url: string, ca: Buffer | null) => {
    const etag = String((await request(`${url}/cargo/index/${hot.path}`, { ca })).headers.etag);
    const file = path.join(dir, `hot-${name}.txt`);
    fs.writeFileSync(file, `${url}/cargo/index/${hot.path}\n`);
    return { file, etag };
  };
  type Measuring = { name: string; key: string; url: string; pid: number; hot: { file: string; etag: string } };
  /** Slice `slice` of one server's Zipf (`full`) or 304 run, with the server's CPU (and user) time per request. */
  const measureSlice = (kind: 'full' | 'notModified', slice: number, s: Measuring, tls: boolean): Promise<Measured> => {
    if (!PERF || !ONE_PROCESS.has(s.key)) return loadSlice(kind, slice, s, tls);
    const load = () => loadSlice(kind, slice, s, tls).then((r) => ({ ...r, cpuSeconds: (r.cpuUs! * r.requests) / 1e6 }));
    return PERF.during(perfName(tls, kind, s.name), s.pid, load);
  };
  /** `measureSlice` without a profile. */
  const loadSlice = async (kind: 'full' | 'notModified', slice: number, s: Measuring, tls: boolean): Promise<Measured> => {
    const before = cpuTimes(s.pid);
    const run: Measured = await h2load({
      uris: kind === 'full' ? uris(s.url, slice) : s.hot.file,
      clients: CLIENTS,
      requests: SLICE_REQUESTS,
      h1: !tls,
      dir,
      keepLatencies: SLICES > 1,
      headers: kind === 'full' ? [] : [`if-none-match: ${s.hot.etag}`],
    });
    const after = cpuTimes(s.pid);
    run.cpuUs = ((after.total - before.total) / run.requests) * 1e6;
    run.userUs = ((after.user - before.user) / run.requests) * 1e6;
    return run;
  };
  /** The name of a server's profile of one transport and kind (BENCH_PERF). */
  const perfName = (tls: boolean, kind: 'full' | 'notModified', server: string) =>
    `${tls ? 'TLS + HTTP/2' : 'HTTP/1.1'} ${kind === 'full' ? '200s' : '304s'}, ${server}`;
  /** The file of a server's comparison with bare Node (BENCH_PERF): e.g. `h2-304s-larder-workers-1`. */
  const perfFile = (tls: boolean, kind: 'full' | 'notModified', server: string) =>
    `${tls ? 'h2' : 'h1'}-${kind === 'full' ? '200s' : '304s'}-${server.replace(/\W+/g, '-')}`;
  /** A round's slices of one server as one run: CPU per request over them all. */
  const joinSlices = (slices: Measured[]): Measured => {
    if (slices.length === 1) return slices[0];
    const requests = slices.reduce((n, r) => n + r.requests, 0);
    const weighted = (f: (r: Measured) => number | undefined) => slices.reduce((t, r) => t + (f(r) ?? NaN) * r.requests, 0) / requests;
    return { ...combineLoads(slices), cpuUs: weighted((r) => r.cpuUs), userUs: weighted((r) => r.userUs) };
  };
  /** The run with the median req/s, its CPU per request the median of the rounds' (the two move apart under noise). */
  const medianOf = (list: Measured[]): Measured => {
    const byRate = [...list].sort((a, b) => a.reqPerSec - b.reqPerSec);
    const cpus = list.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    return { ...byRate[byRate.length >> 1], p99ms: median(list.map((r) => r.p99ms)), cpuUs: cpus.length ? median(cpus) : undefined };
  };
  /** Each round's CPU per request with its user part (the rest is the kernel's: socket reads and writes). */
  const byRound = (list: Measured[]) => list.map((r) => `${r.cpuUs?.toFixed(1)} (${r.userUs?.toFixed(1)})`).join(' / ');
  const non200 = (r: LoadResult, ok: string) => String(r.requests - (r.statuses[ok] ?? 0));

  // The certificate Larder will use (it reuses these files), so nginx can serve the same one.
  const ca = fs.readFileSync((await ensureSelfSignedTls(path.join(data, 'tls'), ['127.0.0.1'])).caCertPath);
  for (const tls of [true, false].filter((t) => TRANSPORTS.includes(t ? 'h2' : 'h1'))) {
    const transport = tls ? 'TLS + HTTP/2' : 'HTTP/1.1';
    const certPath = path.join(data, 'tls', 'server.pem');
    const keyPath = path.join(data, 'tls', 'server-key.pem');
    // ROUNDS rounds of every server (started afresh each round unless BENCH_SAME_PROCESS=1); each figure is the median
    // of its rounds, so a burst of other work on the machine moves one round, not the result.
    type Running = { name: string; key: string; url: string; pid: number; stop: () => Promise<void> };
    /** Starts every server of the run (Larder each on its own copy of the data, made once). */
    const startServers = async (): Promise<Running[]> => {
      const servers: Running[] = [];
      if (SERVERS.has('nginx')) {
        const nginx = await startNginx({
          dir: path.join(dir, `nginx-${tls}`),
          root: nginxRoot,
          tls: tls ? { cert: certPath, key: keyPath } : undefined,
        });
        servers.push({ name: 'nginx', key: 'nginx', url: nginx.url, pid: nginx.pid, stop: nginx.stop });
      }
      // Node's own ceiling: the same bytes from a Map, one process, nothing else.
      if (SERVERS.has('bare')) {
        const bare = await startBareNode({
          root: nginxRoot,
          certPath,
          keyPath,
          nodeArgs: [...BARE_NODE_ARGS, ...profArgs(`bare-${tls ? 'h2' : 'h1'}`)],
        });
        servers.push({ name: 'bare Node', key: 'bare', url: tls ? bare.h2Url : bare.h1Url, pid: bare.pid, stop: bare.stop });
      }
      // One process, then one per CPU (`workers = "auto"`, as nginx's `worker_processes auto`); each on its own copy of the data.
      for (const workers of ['1', 'auto']) {
        if (!SERVERS.has(`larder-${workers}`)) continue;
        const own = path.join(dir, `larder-${workers}-${tls}`);
        if (!fs.existsSync(own)) fs.cpSync(data, own, { recursive: true });
        const larder = await startLarder({
          data: own,
          tls,
          logToFile: LOG_TO_FILE,
          env: { LARDER_WORKERS: workers, ...(CPU_PROF ? { LARDER_TIMEOUTS_DRAIN: '0' } : {}) },
          nodeArgs: [...LARDER_NODE_ARGS, ...profArgs(`larder-${workers}-${tls ? 'h2' : 'h1'}`)],
        });
        servers.push({ name: `larder, workers ${workers}`, key: `larder-${workers}`, url: larder.url, pid: larder.pid, stop: larder.stop });
      }
      if (BASELINE) {
        const own = path.join(dir, `baseline-${tls}`);
        if (!fs.existsSync(own)) fs.cpSync(data, own, { recursive: true });
        const larder = await startLarder({
          data: own,
          tls,
          root: BASELINE,
          logToFile: LOG_TO_FILE,
          env: { LARDER_WORKERS: '1', ...(CPU_PROF ? { LARDER_TIMEOUTS_DRAIN: '0' } : {}), ...BASELINE_ENV },
          nodeArgs: [...BASELINE_NODE_ARGS, ...profArgs(`baseline-${tls ? 'h2' : 'h1'}`)],
        });
        servers.push({ name: 'baseline, workers 1', key: 'baseline', url: larder.url, pid: larder.pid, stop: larder.stop });
      }
      // Node leaves each profiled process's JIT symbol map in /tmp: gone with the process.
      if (PERF)
        for (const s of servers) {
          const stop = s.stop;
          s.stop = () => stop().then(() => PerfProfiles.forget(s.pid));
        }
      if (PIN !== undefined) {
        const other = PIN === '0' ? '1' : '0';
        for (const s of servers) if (ONE_PROCESS.has(s.key)) spawnSync('taskset', ['-a', '-cp', other, String(s.pid)]);
      }
      return servers;
    };
    let servers: Running[] = [];
    const runs: Record<string, Array<{ full: Measured; notModified: Measured }>> = {};
    /** Each server's 200 slices' CPU per request, round by round: one slow slice moves a round by a quarter of its size. */
    const bySlice: Record<string, string[]> = {};
    /** Each one-process server's peak RSS (MB) when it stops, round by round: what V8 settings cost in memory. */
    const peakRss: Record<string, string[]> = {};
    const stopAll = async (list: Running[]) => {
      for (const s of list) {
        if (ONE_PROCESS.has(s.key)) {
          let mb = '?';
          try {
            mb = (peakRssOf(s.pid) / 1e6).toFixed(0);
          } catch {
            // A server that died has no /proc entry left: its stop (and the run's own error) still go ahead.
          }
          (peakRss[s.name] ??= []).push(mb);
        }
        await s.stop();
      }
    };
    try {
      if (!FRESH_PROCESSES) servers = await startServers();
      for (let round = 0; round < ROUNDS; round++) {
        if (FRESH_PROCESSES) servers = await startServers();
        const hot = new Map<string, { file: string; etag: string }>();
        for (const s of servers) {
          if (FRESH_PROCESSES || round === 0) await warmUp(s.url, tls);
          hot.set(s.key, await hotList(s.key, s.url, tls ? ca : null));
        }
        // Slices of every server in turn (the order rotates each slice and round): each server's run of the round is
        // spread over the same stretch of time as the others', so a slower minute of the machine is everyone's.
        const slices: Record<string, { full: Measured[]; notModified: Measured[] }> = {};
        for (const kind of ['full', 'notModified'] as const)
          for (let slice = 0; slice < SLICES; slice++)
            for (let i = 0; i < servers.length; i++) {
              const s = servers[(i + round + slice) % servers.length];
              const measured = await measureSlice(kind, slice, { ...s, hot: hot.get(s.key)! }, tls);
              (slices[s.name] ??= { full: [], notModified: [] })[kind].push(measured);
            }
        for (const [name, own] of Object.entries(slices)) {
          (runs[name] ??= []).push({ full: joinSlices(own.full), notModified: joinSlices(own.notModified) });
          (bySlice[name] ??= []).push(own.full.map((r) => r.cpuUs?.toFixed(1)).join(' '));
        }
        if (FRESH_PROCESSES) await stopAll(servers.splice(0));
      }
    } finally {
      await stopAll(servers);
    }
    // Each round's CPU per request (one process each with fresh processes): the spread the medians hide.
    for (const [name, list] of Object.entries(runs))
      spread.push(
        `${transport}, ${name}: CPU µs per request by round (of which user time), 200s ${byRound(list.map((r) => r.full))}; 304s ${byRound(list.map((r) => r.notModified))}.`,
      );
    for (const [name, list] of Object.entries(peakRss))
      spread.push(`${transport}, ${name}: peak RSS (MB), round by round: ${list.join(' / ')}.`);
    if (SLICES > 1)
      for (const [name, list] of Object.entries(bySlice))
        spread.push(`${transport}, ${name}: CPU µs per request of each 200s slice, round by round: ${list.join(' | ')}.`);
    for (const kind of ['full', 'notModified'] as const) {
      const label = kind === 'full' ? transport : `${transport}, 304`;
      const ok = kind === 'full' ? '200' : '304';
      /** `name`'s figure against `peer`'s, round by round (`pairedRatio`); none against itself or a server not run. */
      const paired = (name: string, peer: string, figure: (r: Measured) => number | undefined): number | undefined => {
        if (!runs[name] || !runs[peer] || name === peer) return undefined;
        const of = (server: string) => runs[server].map((r) => figure(r[kind]) ?? NaN);
        return pairedRatio(of(name), of(peer));
      };
      const byRoundVs = (name: string, peer: string) =>
        runs[name].map((r, i) => (r[kind].reqPerSec / runs[peer][i][kind].reqPerSec).toFixed(2)).join(' / ');
      for (const peer of ['nginx', 'bare Node']) {
        const r = runs[peer]?.map((x) => x[kind]).find((x) => x.statuses[ok] !== x.requests);
        if (r) throw new Error(`${peer} answered ${non200(r, ok)} of ${r.requests} requests with something other than ${ok}`);
      }
      const show = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : times(x));
      for (const name of Object.keys(runs)) {
        const l = medianOf(runs[name].map((r) => r[kind]));
        const vsNginx = paired(name, 'nginx', (r) => r.reqPerSec);
        const p99VsNginx = paired(name, 'nginx', (r) => r.p99ms);
        const fromBare = name !== 'nginx' && name !== 'bare Node';
        const vsBare = fromBare ? paired(name, 'bare Node', (r) => r.reqPerSec) : undefined;
        const onePro = name === 'larder, workers 1' || name === 'baseline, workers 1';
        // Req/s-equivalent from CPU per request: what the ratio would be with the server alone on a core.
        const cpuVsBare = onePro ? paired('bare Node', name, (r) => r.cpuUs) : undefined;
        rows.push([
          label,
          name,
          l.reqPerSec.toFixed(0),
          l.p50ms.toFixed(2),
          l.p99ms.toFixed(2),
          l.cpuUs === undefined ? '' : l.cpuUs.toFixed(1),
          non200(l, ok),
          show(vsNginx),
          show(p99VsNginx),
          show(vsBare),
          fromBare ? show(paired(name, 'bare Node', (r) => r.p99ms)) : '',
          show(cpuVsBare),
        ]);
        if (vsBare !== undefined && onePro) spread.push(`${label}, ${name} ÷ bare Node, req/s by round: ${byRoundVs(name, 'bare Node')}.`);
        const profile =
          PERF && onePro ? PERF.compare(perfFile(tls, kind, name), perfName(tls, kind, name), perfName(tls, kind, 'bare Node')) : null;
        if (profile) spread.push(`${label}, ${name} against bare Node, where the time goes (perf): ${profile}.`);
        if (!name.startsWith('larder')) continue;
        if (vsBare !== undefined && name === 'larder, workers 1')
          targets.push({
            what: `${label}, ${name}: req/s ${show(vsBare)} of bare Node (one process each, median of the rounds' ratios; target ≥ 0.9x)`,
            ok: vsBare >= 0.9,
          });
        if (vsNginx !== undefined && p99VsNginx !== undefined) {
          targets.push({ what: `${label}, ${name}: req/s ${show(vsNginx)} of nginx (issue 3 target ≥ 0.6x)`, ok: vsNginx >= 0.6 });
          targets.push({ what: `${label}, ${name}: p99 ${show(p99VsNginx)} of nginx (target ≤ 2x)`, ok: p99VsNginx <= 2 });
        }
        if (l.statuses[ok] !== l.requests) targets.push({ what: `${label}, ${name}: every response was ${ok}`, ok: false });
      }
    }
  }
  return {
    name: 'index-read',
    table: rows,
    targets,
    notes: [
      `${CRATES} index files, median ${sizes[CRATES >> 1]} B, p99 ${sizes[Math.floor(CRATES * 0.99)]} B, max ${sizes[CRATES - 1]} B; ${REQUESTS} requests per run by ${CLIENTS} connections (h2load, 10 streams each over h2), Zipf s=1 over crates; 304 rows: one hot file with its ETag in If-None-Match.`,
      `Warm-up of each server process before it is measured, for every server alike: each of the ${distinct.length} distinct files of the sample read once per CPU (one connection per CPU through the whole list), then 20,000 requests of the sample; so the comparison is of serving, not of first loads.`,
      FRESH_PROCESSES
        ? `${ROUNDS} rounds, each starting every server afresh (a Node process lands in a fast or a slow steady state, so each figure is over ${ROUNDS} processes per server; BENCH_ROUNDS).`
        : `Servers started together and measured in ${ROUNDS} rounds (BENCH_SAME_PROCESS=1; BENCH_ROUNDS).`,
      `In a round each server's run is ${SLICES} slices of ${SLICE_REQUESTS} requests, taken in turn with the other servers' slices (the order rotates each slice and round; BENCH_SLICES), so that every server of a round is measured over the same stretch of time; each slice opens its ${CLIENTS} connections anew.`,
      'req/s and p50: the round with the median req/s; p99 and CPU µs: medians of the rounds. Every "vs" column is paired: the median over the rounds of the two servers\' ratio within a round.',
      ...(PIN !== undefined ? [`BENCH_PIN=${PIN}: h2load on CPU ${PIN}, the one-process servers on the other CPU.`] : []),
      'nginx: worker_processes auto, access log on; Larder: request log on (its stdout is the log file, as the access log of nginx; BENCH_LOG_PIPE=1 copies it through this process as before), one process and `workers = "auto"`; the load generator shares the 2 cores.',
      ...(BASELINE
        ? [
            `baseline, workers 1: the build of ${BASELINE} (git ${baselineCommit(BASELINE)}), one process, in the same rounds (BENCH_BASELINE)${BASELINE_NODE_ARGS.length ? `, run with \`node ${BASELINE_NODE_ARGS.join(' ')}\`` : ''}${process.env.BENCH_BASELINE_ENV ? ` and \`${process.env.BENCH_BASELINE_ENV}\`` : ''}: an A/B of this checkout against it.`,
          ]
        : []),
      'bare Node (bench/lib/bare-node.ts): one process, node:http (HTTP/1.1) and node:http2 createSecureServer (same certificate, raw stream API) answering the same bytes from a Map with the same header set and If-None-Match → 304; no request log, no metrics. CPU µs/req: the server process\'s user + system CPU (with its child processes) over the run ÷ requests; "bare CPU ÷ Larder CPU" is the req/s ratio the two would have on an otherwise idle core.',
      ...spread,
    ],
  };
}
