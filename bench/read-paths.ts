import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSelfSignedTls } from '../src/http/tls.js';
import { startBareNode, writeBareResponses, type BareResponse } from './lib/bare-node.js';
import { timeClones, startGitHttpBackend, type CloneTimes } from './lib/git-http.js';
import { h2load, type LoadResult } from './lib/h2load.js';
import { request } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, ROOT, startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import { cpuSeconds, run } from './lib/procs.js';
import { benchUuid, writeBazelRegistry, writeJuliaRegistry } from './lib/registries.js';
import type { BenchReport } from './lib/results.js';
import { median, ratio, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';
import { canonicalTarball } from '../src/formats/julia/tarball.js';

const BAZEL_MODULES = 3_000;
const JULIA_PACKAGES = 10_000;
/** Registered packages whose tarballs are read (one version each, ~30 KB). */
const PACKAGE_TARBALLS = 20;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
/** Processes measured per server, one run each after its warm-up (BENCH_ROUNDS); runs in one process with BENCH_SAME_PROCESS=1. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** A fresh process per server and round (see index-read): BENCH_SAME_PROCESS=1 for one process with ROUNDS runs. */
const FRESH_PROCESSES = process.env.BENCH_SAME_PROCESS !== '1';
const CLIENTS = 100;
const CLONES_AT_ONCE = 4;
const CLONE_ROUNDS = 3;
/** Larder's process counts to measure: one, and one per CPU as nginx's `worker_processes auto`. */
const WORKERS = (process.env.BENCH_WORKERS ?? '1,auto').split(',');
/** For profiling: only the read paths whose name contains this (`git` for the clones); all when unset. */
const ONLY = process.env.BENCH_ONLY?.toLowerCase();
/**
 * For profiling: a directory for `node --cpu-prof` profiles of every Larder process serving a measured run (workers
 * inherit the flag). The drain is turned off so the stop's SIGTERM lets each process write its profile and exit.
 */
const PROFILE = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : null;

/** A load run and the server's CPU time per request (µs) during it. */
type Measured = LoadResult & { cpuUs?: number };

/** One read path: the URL paths to request (the same below both servers' roots) and how hard. */
interface ReadPath {
  name: string;
  paths: string[];
  clients: number;
  requests: number;
}

/** `larder <args> --data <data>` from this checkout's build, to completion. */
async function larderCli(data: string, args: string[]): Promise<string> {
  const res = await run(process.execPath, [path.join(ROOT, 'bin/larder.js'), ...args, '--data', data], {
    cwd: data,
    env: { ...process.env, LARDER_CONFIG: '' },
  });
  if (res.code !== 0) throw new Error(`larder ${args.join(' ')} failed (${res.code}): ${res.stderr || res.stdout}`);
  return res.stdout;
}

/** `n` bytes of incompressible text, so a package tarball is about as large on the wire as its files. */
function noise(n: number, seed: string): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha256').update(`${seed}:${i}`).digest('base64');
  return out.slice(0, n);
}

/** Registers PACKAGE_TARBALLS packages in a small registry of their own; returns their tarball URL paths. */
async function registerPackages(url: string): Promise<string[]> {
  const auth = { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` };
  const reg = benchUuid('registry BenchPkgs');
  const created = await request(`${url}/julia/api/registries`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ name: 'BenchPkgs', uuid: reg })),
  });
  if (created.status !== 201) throw new Error(`creating a Julia registry: ${created.status} ${created.body.toString()}`);
  const paths: string[] = [];
  for (let i = 0; i < PACKAGE_TARBALLS; i++) {
    const name = `BenchPkg${i}`;
    const uuid = benchUuid(`package BenchPkgs ${name}`);
    const tree = new Map([
      [
        'Project.toml',
        { kind: 'file' as const, data: Buffer.from(`name = "${name}"\nuuid = "${uuid}"\nversion = "1.0.0"\n\n[compat]\njulia = "1.6"\n`) },
      ],
      [
        `src/${name}.jl`,
        { kind: 'file' as const, data: Buffer.from(`module ${name}\nconst DATA = """\n${noise(40_000, name)}\n"""\nend\n`) },
      ],
    ]);
    const res = await request(`${url}/julia/api/registries/${reg}/packages`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/gzip' },
      body: await canonicalTarball(tree),
    });
    if (res.status !== 201) throw new Error(`registering ${name}: ${res.status} ${res.body.toString()}`);
    const { packageTree } = JSON.parse(res.body.toString()) as { packageTree: string };
    paths.push(`/julia/package/${uuid}/${packageTree}`);
  }
  return paths;
}

/** Copies what Larder answers at each path into nginx's root, so both serve the same bytes. */
async function mirrorToNginx(url: string, www: string, paths: string[]): Promise<void> {
  for (const p of paths) {
    const res = await request(`${url}${p}`);
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
    fs.mkdirSync(path.dirname(path.join(www, p)), { recursive: true });
    fs.writeFileSync(path.join(www, p), res.body);
  }
}

/**
 * What Larder answers at each path (status 200, headers and body), for the bare Node peer to answer the same way;
 * `parallel` requests at a time.
 */
async function captureResponses(url: string, paths: string[], parallel = 16): Promise<BareResponse[]> {
  const out: BareResponse[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < paths.length) {
        const p = paths[next++];
        const res = await request(`${url}${p}`);
        if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
        const headers = Object.entries(res.headers).flatMap(([name, v]): Array<[string, string]> =>
          v === undefined ? [] : [[name, Array.isArray(v) ? v.join(', ') : v]],
        );
        out.push({ url: p, headers, body: res.body });
      }
    }),
  );
  return out;
}

/** Fails unless both servers answer `p` with the same bytes. */
async function sameBytes(a: string, b: string, p: string, ca: Buffer | null): Promise<void> {
  const [x, y] = await Promise.all([request(`${a}${p}`, { ca }), request(`${b}${p}`, { ca })]);
  if (x.status !== 200 || y.status !== 200 || !x.body.equals(y.body))
    throw new Error(`${p}: the servers differ (${x.status}, ${y.status})`);
}

/**
 * read-paths: every format's read path besides Cargo's index against its natural peer — Bazel registry files and
 * Julia's `/registries`, registry and package tarballs against nginx serving the same bytes as static files, and git
 * clones of a 10,000-package Julia registry through the git view against `git http-backend` behind nginx + fcgiwrap.
 */
export async function readPaths(dir: string): Promise<BenchReport> {
  ensureTools(['nginx', 'h2load', 'fcgiwrap']);
  const data = path.join(dir, 'larder');
  const www = path.join(dir, 'www');
  fs.mkdirSync(data, { recursive: true });
  const bazelFiles = writeBazelRegistry(path.join(www, 'bazel'), BAZEL_MODULES);
  const juliaSrc = path.join(dir, 'julia-src');
  const big = writeJuliaRegistry(juliaSrc, 'Bench10k', JULIA_PACKAGES);
  const tls = await ensureSelfSignedTls(path.join(data, 'tls'), ['127.0.0.1']);
  const ca = fs.readFileSync(tls.caCertPath);
  process.stderr.write(`importing ${bazelFiles.length} Bazel files and a ${JULIA_PACKAGES}-package Julia registry…\n`);
  await larderCli(data, ['import', 'bazel', path.join(www, 'bazel')]);
  await larderCli(data, ['import', 'julia', juliaSrc]);

  // Package registrations need the HTTP API; then nginx gets the bytes Larder serves, and the git view is built once
  // (the bare repository is a cache) and copied for the peer, which then serves the very same packs.
  const gitRoot = path.join(dir, 'git');
  const bareRoot = path.join(dir, 'bare');
  let julia: { registries: string; tarballs: string[]; packages: string[]; tree: string };
  {
    const larder = await startLarder({ data, tls: false, env: { LARDER_WORKERS: '1' } });
    try {
      const packages = await registerPackages(larder.url);
      const registries = (await request(`${larder.url}/julia/registries`)).body.toString().trim().split('\n');
      const tarballs = registries.map((line) => `/julia${line}`);
      await mirrorToNginx(larder.url, www, ['/julia/registries', ...tarballs, ...packages]);
      // The bare Node peer answers what Larder answered, headers included (its own request id and date).
      const captured = await captureResponses(larder.url, [
        ...bazelFiles.map((f) => `/bazel/${f}`),
        '/julia/registries',
        ...tarballs,
        ...packages,
      ]);
      writeBareResponses(bareRoot, captured);
      const bigLine = registries.find((l) => l.includes(big.uuid));
      if (!bigLine) throw new Error(`/registries does not list ${big.name}`);
      julia = { registries: '/julia/registries', tarballs: [`/julia${bigLine}`], packages, tree: bigLine.split('/')[3] };
      await timeClones(`${larder.url}/julia/${big.name}.git`, { dir, concurrency: 1, rounds: 1, expectTree: julia.tree });
      const [bare] = fs.readdirSync(path.join(data, 'julia-git')).map((id) => path.join(data, 'julia-git', id, `${big.uuid}.git`));
      fs.cpSync(bare, path.join(gitRoot, `${big.name}.git`), { recursive: true });
    } finally {
      await larder.stop();
    }
  }
  const tarballBytes = fs.statSync(path.join(www, julia.tarballs[0])).size;

  const sample = zipfSampler(bazelFiles.length, 1.0);
  const order = bazelFiles.map((_, i) => i).sort((a, b) => ((a * 7919) % bazelFiles.length) - ((b * 7919) % bazelFiles.length));
  const allReadPaths: ReadPath[] = [
    {
      name: 'Bazel registry files',
      paths: Array.from({ length: 50_000 }, () => `/bazel/${bazelFiles[order[sample()]]}`),
      clients: CLIENTS,
      requests: REQUESTS,
    },
    { name: 'Julia /registries', paths: [julia.registries], clients: CLIENTS, requests: REQUESTS },
    { name: 'Julia registry tarball', paths: julia.tarballs, clients: 10, requests: Math.max(200, Math.round(REQUESTS / 50)) },
    { name: 'Julia package tarballs', paths: julia.packages, clients: CLIENTS, requests: Math.round(REQUESTS / 2) },
  ];

  const readPaths = allReadPaths.filter((rp) => !ONLY || rp.name.toLowerCase().includes(ONLY));
  const clonesToo = !ONLY || 'git clone'.includes(ONLY);
  const rows: string[][] = [
    [
      'read path',
      'transport',
      'server',
      'rate',
      'p50',
      'p99',
      'non-200',
      'CPU µs/req',
      'vs nginx',
      'vs bare Node',
      'bare CPU ÷ Larder CPU',
    ],
  ];
  const targets: BenchReport['targets'] = [];
  const notes: string[] = [];
  const spread: string[] = [];
  /** One read path's measured run, with the server's CPU per request (µs; its child processes included) over it. */
  const load = async (rp: ReadPath, url: string, h1: boolean, pid: number, measuredRuns: number): Promise<Measured> => {
    const list = path.join(dir, 'uris.txt');
    fs.writeFileSync(list, rp.paths.map((p) => `${url}${p}`).join('\n') + '\n');
    const opts = { uris: list, clients: rp.clients, h1, dir };
    // Fair warm-up: every distinct file read once by each process before measuring (nginx has the page cache; each
    // Larder process starts with an empty document cache). One connection per CPU, each going through the whole list,
    // so with `workers auto` every worker sees every file.
    const distinct = [...new Set(rp.paths)];
    const every = path.join(dir, 'uris-distinct.txt');
    fs.writeFileSync(every, distinct.map((p) => `${url}${p}`).join('\n') + '\n');
    const cpus = os.availableParallelism();
    await h2load({ uris: every, clients: cpus, h1, dir, requests: distinct.length * cpus });
    // Then as many requests as are measured: after a tenth of them, V8 was still compiling the serving code (its
    // compiler threads and the main thread's first optimised calls were up to half of the measured run's CPU for
    // Larder, a third for bare Node), so the run measured JIT warm-up more than serving.
    await h2load({ ...opts, requests: Math.max(rp.clients, rp.requests) });
    // Measured in `measuredRuns` runs (a major collection of a grown heap, or another process's burst, lands in one of
    // them): req/s and latencies from the run with the median req/s, CPU µs the median of the runs.
    const runs: Measured[] = [];
    for (let round = 0; round < measuredRuns; round++) {
      const cpu = cpuSeconds(pid);
      const r: Measured = await h2load({ ...opts, requests: rp.requests });
      r.cpuUs = ((cpuSeconds(pid) - cpu) / r.requests) * 1e6;
      runs.push(r);
    }
    return medianRun(runs);
  };
  /** The run with the median req/s, its CPU per request the median of the runs' (the two move apart under noise). */
  const medianRun = (runs: Measured[]): Measured => {
    const byRate = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
    return { ...byRate[Math.floor(byRate.length / 2)], cpuUs: median(runs.map((r) => r.cpuUs!)) };
  };
  const non200 = (r: LoadResult) => r.requests - (r.statuses['200'] ?? 0);

  for (const secure of [false, true]) {
    const transport = secure ? 'TLS + HTTP/2' : 'HTTP/1.1';
    const results = new Map<string, Map<string, Measured>>(readPaths.map((rp) => [rp.name, new Map()]));
    /** A server of this transport: started, measured on every read path, stopped. */
    interface Server {
      name: string;
      start(): Promise<{ url: string; pid: number; stop: () => Promise<void> }>;
    }
    const servers: Server[] = [
      {
        name: 'nginx',
        start: async () => {
          const nginx = await startNginx({
            dir: path.join(dir, `nginx-${secure}`),
            root: www,
            tls: secure ? { cert: tls.certPath, key: tls.keyPath } : undefined,
          });
          return { url: nginx.url, pid: nginx.pid, stop: nginx.stop };
        },
      },
      {
        // Node's own ceiling: Larder's responses from a Map, one process, no request log or metrics.
        name: 'bare Node',
        start: async () => {
          const bare = await startBareNode({ root: bareRoot, certPath: tls.certPath, keyPath: tls.keyPath });
          const url = secure ? bare.h2Url : bare.h1Url;
          for (const rp of readPaths) {
            const got = await request(`${url}${rp.paths[0]}`, { ca: secure ? ca : null });
            if (got.status !== 200 || !got.body.equals(fs.readFileSync(path.join(www, rp.paths[0])))) {
              await bare.stop();
              throw new Error(`${rp.paths[0]}: bare Node answers ${got.status}, not nginx's bytes`);
            }
          }
          return { url, pid: bare.pid, stop: bare.stop };
        },
      },
      ...WORKERS.map((workers) => ({ name: `larder, workers ${workers}`, start: () => startLarderFor(workers) })),
    ];
    let checked = false;
    const startLarderFor = async (workers: string) => {
      const larder = await startLarder({
        data,
        tls: secure,
        logToFile: true,
        env: { LARDER_WORKERS: workers, ...(PROFILE ? { LARDER_TIMEOUTS_DRAIN: '0' } : {}) },
        nodeArgs: PROFILE ? ['--cpu-prof', '--cpu-prof-dir', path.join(PROFILE, `${secure ? 'h2' : 'h1'}-workers-${workers}`)] : [],
      });
      if (!checked) {
        checked = true;
        const peer = await startNginx({
          dir: path.join(dir, `nginx-check-${secure}`),
          root: www,
          tls: secure ? { cert: tls.certPath, key: tls.keyPath } : undefined,
        });
        try {
          for (const rp of readPaths) await sameBytes(peer.url, larder.url, rp.paths[0], secure ? ca : null);
        } catch (err) {
          await larder.stop();
          throw err;
        } finally {
          await peer.stop();
        }
      }
      return { url: larder.url, pid: larder.pid, stop: larder.stop };
    };
    // Fresh processes each round (BENCH_SAME_PROCESS=1: one process per server, ROUNDS runs in it): one Node process of
    // a build lands in a fast or a slow steady state (index-read's A/A runs differed by up to 30 %), so each figure is
    // the median over ROUNDS processes, the servers' order rotating each round.
    const runs = new Map<string, Measured[]>();
    const processes = FRESH_PROCESSES ? ROUNDS : 1;
    for (let round = 0; round < processes; round++) {
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(i + round) % servers.length];
        const running = await server.start();
        try {
          for (const rp of readPaths) {
            const key = `${rp.name}\0${server.name}`;
            const measured = await load(rp, running.url, !secure, running.pid, FRESH_PROCESSES ? 1 : ROUNDS);
            runs.set(key, [...(runs.get(key) ?? []), measured]);
          }
        } finally {
          await running.stop();
        }
      }
    }
    for (const rp of readPaths)
      for (const server of servers) results.get(rp.name)!.set(server.name, medianRun(runs.get(`${rp.name}\0${server.name}`)!));
    for (const rp of readPaths)
      for (const server of servers) {
        const list = runs.get(`${rp.name}\0${server.name}`)!;
        if (list.length > 1)
          spread.push(
            `${rp.name}, ${transport}, ${server.name}: CPU µs per request by process, ${list.map((r) => r.cpuUs!.toFixed(1)).join(' / ')}.`,
          );
      }
    const clones = new Map<string, CloneTimes>();
    if (!secure && clonesToo) {
      const gitPeer = await startGitHttpBackend({ dir: path.join(dir, 'git-peer'), projectRoot: gitRoot });
      try {
        const url = `${gitPeer.url}/git/${big.name}.git`;
        await timeClones(url, { dir, concurrency: 1, rounds: 1, expectTree: julia.tree });
        clones.set(
          'git http-backend (nginx + fcgiwrap)',
          await timeClones(url, { dir, concurrency: CLONES_AT_ONCE, rounds: CLONE_ROUNDS }),
        );
      } finally {
        await gitPeer.stop();
      }
      for (const workers of WORKERS) {
        const larder = await startLarderFor(workers);
        try {
          const url = `${larder.url}/julia/${big.name}.git`;
          await timeClones(url, { dir, concurrency: 1, rounds: 1, expectTree: julia.tree });
          clones.set(`larder, workers ${workers}`, await timeClones(url, { dir, concurrency: CLONES_AT_ONCE, rounds: CLONE_ROUNDS }));
        } finally {
          await larder.stop();
        }
      }
    }
    for (const rp of readPaths) {
      const byServer = results.get(rp.name)!;
      const n = byServer.get('nginx')!;
      const b = byServer.get('bare Node')!;
      if (non200(n))
        throw new Error(
          `nginx answered ${non200(n)} of ${n.requests} requests for ${rp.name} with something other than 200: ${JSON.stringify(n.statuses)}`,
        );
      // bare Node's ratios are for reading, not targets: a miss there is reported, not fatal.
      if (non200(b)) notes.push(`${rp.name}, ${transport}: bare Node's statuses ${JSON.stringify(b.statuses)} (h2load's -1: no response).`);
      for (const [server, r] of byServer) {
        const peer = server === 'nginx' || server === 'bare Node';
        rows.push([
          rp.name,
          transport,
          server,
          `${r.reqPerSec.toFixed(0)} req/s`,
          `${r.p50ms.toFixed(2)} ms`,
          `${r.p99ms.toFixed(2)} ms`,
          String(non200(r)),
          r.cpuUs === undefined ? '' : r.cpuUs.toFixed(1),
          server === 'nginx' ? '' : ratio(r.reqPerSec, n.reqPerSec),
          peer ? '' : ratio(r.reqPerSec, b.reqPerSec),
          // One process each: the req/s ratio the two would have on an otherwise idle core.
          server === 'larder, workers 1' && r.cpuUs && b.cpuUs ? ratio(b.cpuUs, r.cpuUs) : '',
        ]);
        if (peer) continue;
        targets.push({
          what: `${rp.name}, ${transport}, ${server}: ${ratio(r.reqPerSec, n.reqPerSec)} of nginx's req/s (target ≥ 0.8x)`,
          ok: r.reqPerSec >= 0.8 * n.reqPerSec,
        });
        if (non200(r))
          targets.push({ what: `${rp.name}, ${transport}, ${server}: every response was 200 (${JSON.stringify(r.statuses)})`, ok: false });
      }
    }
    const peerName = 'git http-backend (nginx + fcgiwrap)';
    const peerClones = clones.get(peerName);
    for (const [server, c] of clones) {
      const peer = server === peerName;
      rows.push([
        `git clone ${big.name}`,
        transport,
        server,
        `${c.perSecond.toFixed(2)} clones/s`,
        `${c.medianS.toFixed(2)} s`,
        '',
        '0',
        '',
        peer || !peerClones ? '' : ratio(c.perSecond, peerClones.perSecond),
        '',
        '',
      ]);
      if (!peer && peerClones)
        targets.push({
          what: `git clone, ${server}: ${ratio(c.perSecond, peerClones.perSecond)} of git http-backend's clones/s (target ≥ 0.8x)`,
          ok: c.perSecond >= 0.8 * peerClones.perSecond,
        });
    }
  }
  return {
    name: 'read-paths',
    table: rows,
    targets,
    notes: [
      ...notes,
      `Bazel: a generated registry of ${BAZEL_MODULES} modules (${bazelFiles.length} files: metadata.json, MODULE.bazel, source.json), imported with \`larder import bazel\`; ${REQUESTS} requests by ${CLIENTS} connections, Zipf s=1 over files.`,
      `Julia: a generated registry of ${JULIA_PACKAGES} packages imported with \`larder import julia\` (registry tarball ${(tarballBytes / 1024).toFixed(0)} KiB, read by 10 connections), and ${PACKAGE_TARBALLS} registered packages (~30 KiB tarballs); nginx serves the bytes Larder answered, as static files.`,
      `git: \`git clone --bare\` of the ${JULIA_PACKAGES}-package registry's git view (${CLONES_AT_ONCE} at once, ${CLONE_ROUNDS} rounds, after one warm-up clone), against the same bare repository served by \`git http-backend\` behind nginx + fcgiwrap (8 CGI children).`,
      'bare Node (bench/lib/bare-node.ts): one process, node:http (HTTP/1.1) and node:http2 createSecureServer (raw stream API) answering, from a Map, the status, headers (its own x-request-id and date) and bytes Larder answered at each URL, captured once from Larder; no request log, no metrics. "vs bare Node" is Larder ÷ bare Node req/s: bare Node\'s own ratio to nginx is what Node\'s HTTP stack costs, the rest is Larder\'s. CPU µs/req: the server\'s user + system CPU (its child processes included) over the measured run ÷ requests; "bare CPU ÷ Larder CPU" the req/s ratio one process each would have on an otherwise idle core.',
      'nginx: worker_processes auto, access log on; Larder: request log on; h2load uses 10 streams per connection over h2; the load generator shares the 2 cores.',
      ...(PROFILE
        ? [`Larder ran under \`node --cpu-prof\` (BENCH_PROFILE; sampling every 1 ms, a few % of its CPU), so its ratios are a little low.`]
        : []),
      `Warm-up, for both servers alike: every distinct file of a read path is read once per CPU (one connection per CPU going through the whole list, so each of \`workers auto\` sees each file), then as many requests as are measured (a process’s JIT warm-up is over by then); so the comparison is of serving, not of first loads or compiling (nginx has the page cache, Larder’s document cache starts empty). ${FRESH_PROCESSES ? `Then one measured run per read path in each of ${ROUNDS} processes per server (a fresh process each round, the servers' order rotating; BENCH_ROUNDS)` : `Then ${ROUNDS} measured runs per read path in one process per server (BENCH_SAME_PROCESS=1)`}: req/s and latencies from the run with the median req/s, CPU µs/req the median of the runs.`,
      ...spread,
    ],
  };
}
