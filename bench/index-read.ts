import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSelfSignedTls } from '../src/http/tls.js';
import { startBareNode } from './lib/bare-node.js';
import { h2load, type LoadResult } from './lib/h2load.js';
import { request } from './lib/http.js';
import { startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import type { BenchReport } from './lib/results.js';
import { seedCargoIndex, indexFile, versionCount, type IndexFile } from './lib/seed.js';
import { cpuTimes } from './lib/procs.js';
import { median, ratio, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = 10_000;
/** A load run and the server's CPU time per request (µs) during it. */
type Measured = LoadResult & { cpuUs?: number; userUs?: number };
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000);
/** Alternating rounds per server; every figure is the median of its rounds. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = 100;
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
/** Node options for the baseline only (space-separated, e.g. `--max-semi-space-size=64`): an A/B of a V8 setting on one build. */
const BASELINE_NODE_ARGS = (process.env.BENCH_BASELINE_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Node options for this checkout's Larder (e.g. `--log-deopt --logfile=/tmp/v8-%p.log`): a look inside its process. */
const LARDER_NODE_ARGS = (process.env.BENCH_LARDER_NODE_ARGS ?? '').split(' ').filter(Boolean);
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
// A directory per server: each thread (tsx's loader thread in bare Node's process too) writes its own file there.
const profArgs = (name: string) => (CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.join(CPU_PROF, name)] : []);

/** The commit checked out at `root`, for the notes. */
function baselineCommit(root: string): string {
  const res = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : 'unknown';
}

/** index-read: random index files (Zipf) by 100 connections, Larder against nginx and against a bare Node server. */
export async function indexRead(dir: string): Promise<BenchReport> {
  ensureTools(['nginx', 'h2load']);
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
  const uris = (base: string) => {
    const file = path.join(dir, `uris-${base.replace(/\W/g, '_')}.txt`);
    fs.writeFileSync(file, sample.map((p) => `${base}/cargo/index/${p}`).join('\n') + '\n');
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

  /** One server under the Zipf load and under the 304 load. */
  const measure = async (name: string, url: string, ca: Buffer | null, tls: boolean, pid: number, warmUp: boolean) => {
    /** The server's CPU (and user) time per request of a run, from its times `before` it. */
    const perRequest = (run: Measured, before: { total: number; user: number }) => {
      const after = cpuTimes(pid);
      run.cpuUs = ((after.total - before.total) / run.requests) * 1e6;
      run.userUs = ((after.user - before.user) / run.requests) * 1e6;
    };
    const list = uris(url);
    if (warmUp) {
      // Every distinct file of the sample read once by each process first (one connection per CPU going through the
      // whole list, so each of `workers auto` sees each), as read-paths does: bare Node and nginx hold every file from
      // the start, and a first read of a Zipf-tail file in Larder goes through Fastify and SQLite: with 20,000 warm-up
      // requests alone, those first reads landed in the measured rounds. Then the connections' warm-up.
      const cpus = os.availableParallelism();
      await h2load({ uris: distinctList(url), clients: cpus, requests: distinct.length * cpus, h1: !tls, dir });
      await h2load({ uris: list, clients: CLIENTS, requests: 20_000, h1: !tls, dir });
    }
    let before = cpuTimes(pid);
    const full: Measured = await h2load({ uris: list, clients: CLIENTS, requests: REQUESTS, h1: !tls, dir });
    perRequest(full, before);
    const etag = String((await request(`${url}/cargo/index/${hot.path}`, { ca })).headers.etag);
    const hotList = path.join(dir, `hot-${name}.txt`);
    fs.writeFileSync(hotList, `${url}/cargo/index/${hot.path}\n`);
    before = cpuTimes(pid);
    const notModified: Measured = await h2load({
      uris: hotList,
      clients: CLIENTS,
      requests: REQUESTS,
      h1: !tls,
      dir,
      headers: [`if-none-match: ${etag}`],
    });
    perRequest(notModified, before);
    return { full, notModified };
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
  for (const tls of [true, false]) {
    const transport = tls ? 'TLS + HTTP/2' : 'HTTP/1.1';
    const results: Record<string, { full: Measured; notModified: Measured }> = {};
    const certPath = path.join(data, 'tls', 'server.pem');
    const keyPath = path.join(data, 'tls', 'server-key.pem');
    // Every server is started first and measured in ROUNDS alternating rounds (the order rotates each round); each
    // figure is the median of its rounds, so a burst of other work on the machine moves one round, not the result.
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
        const bare = await startBareNode({ root: nginxRoot, certPath, keyPath, nodeArgs: profArgs(`bare-${tls ? 'h2' : 'h1'}`) });
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
          env: { LARDER_WORKERS: '1', ...(CPU_PROF ? { LARDER_TIMEOUTS_DRAIN: '0' } : {}) },
          nodeArgs: [...BASELINE_NODE_ARGS, ...profArgs(`baseline-${tls ? 'h2' : 'h1'}`)],
        });
        servers.push({ name: 'baseline, workers 1', key: 'baseline', url: larder.url, pid: larder.pid, stop: larder.stop });
      }
      if (PIN !== undefined) {
        const other = PIN === '0' ? '1' : '0';
        for (const s of servers)
          if (s.key === 'bare' || s.key === 'larder-1' || s.key === 'baseline') spawnSync('taskset', ['-a', '-cp', other, String(s.pid)]);
      }
      return servers;
    };
    let servers: Running[] = [];
    try {
      if (!FRESH_PROCESSES) servers = await startServers();
      const runs: Record<string, Array<{ full: Measured; notModified: Measured }>> = {};
      for (let round = 0; round < ROUNDS; round++) {
        if (FRESH_PROCESSES) servers = await startServers();
        for (let i = 0; i < servers.length; i++) {
          const s = servers[(i + round) % servers.length];
          (runs[s.name] ??= []).push(await measure(s.key, s.url, tls ? ca : null, tls, s.pid, FRESH_PROCESSES || round === 0));
        }
        if (FRESH_PROCESSES) for (const s of servers.splice(0)) await s.stop();
      }
      // Each round's CPU per request (one process each with fresh processes): the spread the medians hide.
      for (const [name, list] of Object.entries(runs))
        spread.push(
          `${transport}, ${name}: CPU µs per request by round (of which user time), 200s ${byRound(list.map((r) => r.full))}; 304s ${byRound(list.map((r) => r.notModified))}.`,
        );
      for (const name of Object.keys(runs))
        results[name] = {
          full: medianOf(runs[name].map((r) => r.full)),
          notModified: medianOf(runs[name].map((r) => r.notModified)),
        };
    } finally {
      for (const s of servers) await s.stop();
    }
    for (const kind of ['full', 'notModified'] as const) {
      const label = kind === 'full' ? transport : `${transport}, 304`;
      const ok = kind === 'full' ? '200' : '304';
      const n = results.nginx?.[kind];
      const b = results['bare Node']?.[kind];
      for (const [peer, r] of [
        ['nginx', n],
        ['bare Node', b],
      ] as const) {
        if (r && r.statuses[ok] !== r.requests)
          throw new Error(`${peer} answered ${non200(r, ok)} of ${r.requests} requests with something other than ${ok}`);
      }
      for (const [name, r] of Object.entries(results)) {
        const l = r[kind];
        const vs = (peer: Measured | undefined, self: boolean) =>
          self || !peer ? ['', ''] : [ratio(l.reqPerSec, peer.reqPerSec), ratio(l.p99ms, peer.p99ms)];
        rows.push([
          label,
          name,
          l.reqPerSec.toFixed(0),
          l.p50ms.toFixed(2),
          l.p99ms.toFixed(2),
          l.cpuUs === undefined ? '' : l.cpuUs.toFixed(1),
          non200(l, ok),
          ...vs(n, name === 'nginx'),
          ...vs(b, name === 'nginx' || name === 'bare Node'),
          // Req/s-equivalent from CPU per request: what the ratio would be with the server alone on a core.
          b?.cpuUs && l.cpuUs && (name === 'larder, workers 1' || name === 'baseline, workers 1') ? ratio(b.cpuUs, l.cpuUs) : '',
        ]);
        if (!name.startsWith('larder')) continue;
        if (b && name === 'larder, workers 1')
          targets.push({
            what: `${label}, ${name}: req/s ${ratio(l.reqPerSec, b.reqPerSec)} of bare Node (one process each; target ≥ 0.9x)`,
            ok: l.reqPerSec >= 0.9 * b.reqPerSec,
          });
        if (n) {
          targets.push({
            what: `${label}, ${name}: req/s ${ratio(l.reqPerSec, n.reqPerSec)} of nginx (issue 3 target ≥ 0.6x)`,
            ok: l.reqPerSec >= 0.6 * n.reqPerSec,
          });
          targets.push({ what: `${label}, ${name}: p99 ${ratio(l.p99ms, n.p99ms)} of nginx (target ≤ 2x)`, ok: l.p99ms <= 2 * n.p99ms });
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
        ? `${ROUNDS} rounds, each starting every server afresh and measuring them in turn (the order rotates each round): a Node process lands in a fast or a slow steady state, so each figure is over ${ROUNDS} processes per server; req/s and p50 from the round with the median req/s, p99 and CPU µs the medians of the rounds (BENCH_ROUNDS).`
        : `Servers started together and measured in ${ROUNDS} alternating rounds (BENCH_SAME_PROCESS=1); req/s and p50 from the round with the median req/s, p99 and CPU µs the medians of the rounds (BENCH_ROUNDS).`,
      ...(PIN !== undefined ? [`BENCH_PIN=${PIN}: h2load on CPU ${PIN}, the one-process servers on the other CPU.`] : []),
      'nginx: worker_processes auto, access log on; Larder: request log on (its stdout is the log file, as the access log of nginx; BENCH_LOG_PIPE=1 copies it through this process as before), one process and `workers = "auto"`; the load generator shares the 2 cores.',
      ...(BASELINE
        ? [
            `baseline, workers 1: the build of ${BASELINE} (git ${baselineCommit(BASELINE)}), one process, in the same rounds (BENCH_BASELINE)${BASELINE_NODE_ARGS.length ? `, run with \`node ${BASELINE_NODE_ARGS.join(' ')}\`` : ''}: an A/B of this checkout against it.`,
          ]
        : []),
      'bare Node (bench/lib/bare-node.ts): one process, node:http (HTTP/1.1) and node:http2 createSecureServer (same certificate, raw stream API) answering the same bytes from a Map with the same header set and If-None-Match → 304; no request log, no metrics. CPU µs/req: the server process\'s user + system CPU (with its child processes) over the run ÷ requests; "bare CPU ÷ Larder CPU" is the req/s ratio the two would have on an otherwise idle core.',
      ...spread,
    ],
  };
}
