import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, ROOT, startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import { freePort, stopChild } from './lib/procs.js';
import type { BenchReport } from './lib/results.js';
import { indexFile, seedCargoIndex, versionCount, type IndexFile } from './lib/seed.js';
import { median } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

/** Catalogue sizes measured, smallest first: the larger one is seeded on top of the smaller. */
const SIZES = [10_000, 100_000];
const RUNS = 5;
const TARGET_MS = 300;
/** The largest catalogue's median may be at most this many times the smallest's. */
const FLAT = 1.2;

/** Crates `from` ≤ i < `to`, one at a time (100,000 index files are never all in memory). */
function* crates(from: number, to: number): Generator<IndexFile> {
  for (let i = from; i < to; i++) yield indexFile(`bench-crate-${i.toString(36)}`, versionCount(i));
}

/** GETs `url` back to back, from the moment it is called, until one answers 200 with `body`; returns when (performance.now()). */
async function first200(url: string, body: Buffer, child: ChildProcess, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before answering`);
    const res = await request(url).catch(() => null);
    if (res?.status === 200) {
      if (!res.body.equals(body)) throw new Error(`${url} answered 200 with other bytes than were seeded`);
      return performance.now();
    }
  }
  throw new Error(`no 200 from ${url} within ${timeoutMs} ms`);
}

/** CPU ms a process (every thread of it, those that ended too) has used so far, from Linux /proc; NaN elsewhere. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime + stime (fields 14 and 15), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * Spawns a server with `spawnIt` and measures ms until `url` first answers 200, and the CPU the process used until then
 * (a figure other load on the machine changes less than the wall time); then stops it (once `readyUrl` answers 200 when
 * given: Larder answers index reads before its other routes are registered, and a profile is written only by a process
 * that exits through its signal handler, installed when the start is complete).
 */
async function coldStart(
  spawnIt: () => ChildProcess,
  url: string,
  body: Buffer,
  signal: NodeJS.Signals,
  readyUrl?: string,
): Promise<{ ms: number; cpuMs: number }> {
  const started = performance.now();
  const child = spawnIt();
  try {
    const at = (await first200(url, body, child)) - started;
    const cpuMs = cpuMsOf(child.pid);
    while (readyUrl && (await request(readyUrl).catch(() => null))?.status !== 200) await new Promise((r) => setTimeout(r, 20));
    return { ms: at, cpuMs };
  } finally {
    await stopChild(child, signal);
  }
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

/** The phases of a start as a CPU profile shows them: ms of samples under (or, for `self`, in) functions of these names. */
const PHASES: Array<{ what: string; names: RegExp; self?: boolean }> = [
  { what: "reading the bundle's files (dist/bundle/packs/*.cjs, chunks) and their code caches", names: /^(read|latin1Slice)$/, self: true },
  { what: 'compiling them (V8 code cache deserialised, or parsed without one)', names: /^Script$/, self: true },
  {
    what: "Node's own modules (http, http2, tls, zlib, … compiled from Node's built-in cache)",
    names: /^compileForInternalLoader$/,
    self: true,
  },
  { what: 'opening the database (SQLite file, pragmas)', names: /^openSqlite\d*$/ },
  { what: 'migrations check', names: /^migrate\d*$/ },
  { what: 'openRegistry in all (database, migrations, repos, admin user, sources)', names: /^openRegistry\d*$/ },
  { what: 'building the HTTP server before listening (no Fastify)', names: /^earlyServer\d*$/ },
  { what: 'building Fastify on it (after listening)', names: /^createServer\d*$/ },
  { what: 'registering every route of every repo and the web UI (after listening)', names: /^Plugin\.exec$/ },
  { what: 'garbage collection', names: /^\(garbage collector\)$/, self: true },
];

/** Inclusive ms per phase, from a `--cpu-prof` profile. */
function phasesOf(profile: CpuProfile): Array<[string, number]> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  return PHASES.map(({ what, names, self }) => {
    let us = 0;
    for (const [id, t] of timeOf) {
      for (let x: number | undefined = id; x !== undefined; x = self ? undefined : parent.get(x)) {
        if (names.test(byId.get(x)!.callFrame.functionName)) {
          us += t;
          break;
        }
      }
    }
    return [what, us / 1000];
  });
}

/** cold-start: `larder serve` spawn to the first 200 on an index file, with 10,000 and 100,000 crates, against nginx. */
export async function coldStartBench(dir: string): Promise<BenchReport> {
  ensureTools(['nginx']);
  const load = os.loadavg()[0].toFixed(1);
  const www = path.join(dir, 'www');
  const target = indexFile(`bench-crate-${(SIZES[0] >> 1).toString(36)}`, versionCount(SIZES[0] >> 1));
  const nginxDir = path.join(dir, 'nginx');
  const larderPort = await freePort();
  const log = fs.openSync(path.join(dir, 'larder.log'), 'a');
  const env = { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, LARDER_TIMEOUTS_DRAIN: '0' };
  const larder = (data: string, flags: string[] = []) =>
    spawn(
      process.execPath,
      [...flags, path.join(ROOT, 'bin/larder.js'), 'serve', '--data', data, '--listen', `127.0.0.1:${larderPort}`, '--tls', 'off'],
      { cwd: dir, env, stdio: ['ignore', log, log] },
    );
  const nginx = () => spawn('nginx', ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  const url = (port: number) => `http://127.0.0.1:${port}/cargo/index/${target.path}`;

  // A data directory per size: each larger one seeded on top of a copy of the smaller, so that the sizes can be measured
  // in the same rounds (the flatness target compares them; the load of the machine changes between minutes).
  const dataDirs: string[] = [];
  let seeded = 0;
  let seedMs = 0;
  for (const size of SIZES) {
    const data = path.join(dir, `larder-${size}`);
    if (dataDirs.length > 0) fs.cpSync(dataDirs[dataDirs.length - 1]!, data, { recursive: true });
    const t0 = performance.now();
    await seedCargoIndex(data, crates(seeded, size), www);
    seedMs += performance.now() - t0;
    seeded = size;
    // One untimed start: Larder bootstraps its admin token.
    await (await startLarder({ data, tls: false })).stop();
    dataDirs.push(data);
  }
  // One untimed start of nginx: it writes the config reused below.
  const first = await startNginx({ dir: nginxDir, root: www });
  await first.stop();
  const nginxPort = first.port;

  // Rounds: in each, every size and both servers, the order alternating between rounds.
  const times = SIZES.map(() => ({ nginx: [] as number[], larder: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < RUNS; i++) {
    const order = SIZES.map((_, s) => s);
    for (const s of i % 2 ? order.reverse() : order) {
      for (const name of i % 2 ? (['larder', 'nginx'] as const) : (['nginx', 'larder'] as const)) {
        const isLarder = name === 'larder';
        const run = await coldStart(
          isLarder ? () => larder(dataDirs[s]!) : nginx,
          url(isLarder ? larderPort : nginxPort),
          target.body,
          isLarder ? 'SIGTERM' : 'SIGQUIT',
        );
        times[s]![name].push(run.ms);
        if (isLarder) times[s]!.cpu.push(run.cpuMs);
      }
    }
  }

  const rows: string[][] = [['crates', 'server', 'median ms', 'runs ms', 'ratio', 'CPU ms to the first 200']];
  const medians: number[] = [];
  const phaseNotes: string[] = [];
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  // Where the time goes: `larder --version` (Node's own start: bin/larder.js answers it before loading the bundle).
  const version: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    spawnSync(process.execPath, [path.join(ROOT, 'bin/larder.js'), '--version'], { stdio: 'ignore' });
    version.push(performance.now() - t);
  }
  for (const [s, size] of SIZES.entries()) {
    const { nginx: nt, larder: lt, cpu } = times[s]!;
    const [n, l] = [median(nt), median(lt)];
    medians.push(l);
    rows.push([size.toLocaleString('en'), 'nginx', n.toFixed(1), `${fmt(nt)} (${range(nt)})`, '', '']);
    rows.push([
      size.toLocaleString('en'),
      'larder',
      l.toFixed(1),
      `${fmt(lt)} (${range(lt)})`,
      `${(l / n).toFixed(1)}x`,
      `${median(cpu).toFixed(0)} (${fmt(cpu)})`,
    ]);

    // And one profiled start.
    const profDir = path.join(dir, `prof-${size}`);
    const { ms: profiled } = await coldStart(
      () => larder(dataDirs[s]!, ['--cpu-prof', '--cpu-prof-dir', profDir]),
      url(larderPort),
      target.body,
      'SIGTERM',
      `http://127.0.0.1:${larderPort}/-/readyz`,
    );
    const profFile = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    const phases = profFile ? phasesOf(JSON.parse(fs.readFileSync(path.join(profDir, profFile), 'utf8')) as CpuProfile) : [];
    phaseNotes.push(
      `Where the time goes with ${size.toLocaleString('en')} crates: \`node bin/larder.js --version\` (Node's own start; answered before the bundle is loaded) ${median(version).toFixed(0)} ms (median of ${RUNS}); one start under --cpu-prof ${profiled.toFixed(0)} ms to the first 200, profiled until /-/readyz answers 200, of which (CPU samples, ms) ` +
        phases.map(([what, ms]) => `${what}: ${ms.toFixed(0)}`).join('; ') +
        '.',
    );
  }
  fs.closeSync(log);
  const [small, large] = [medians[0], medians[medians.length - 1]];
  const sizes = SIZES.map((s) => s.toLocaleString('en'));
  return {
    name: 'cold-start',
    table: rows,
    targets: [
      ...SIZES.map((_, i) => ({
        what: `Larder cold start ${medians[i].toFixed(0)} ms with ${sizes[i]} crates (target < ${TARGET_MS} ms)`,
        ok: medians[i] < TARGET_MS,
      })),
      {
        what: `${sizes[sizes.length - 1]} crates within ${FLAT}x of ${sizes[0]}: ${(large / small).toFixed(2)}x`,
        ok: large / small <= FLAT,
      },
    ],
    notes: [
      `Spawn to the first 200 (right bytes) on one index file (${target.path}, ${target.body.length} B), plain HTTP, polled by back-to-back GETs (new connection each) from the bench process; median (and range) of ${RUNS} starts per server and size, in ${RUNS} rounds of every size and server (order alternating), after one untimed start of each.`,
      'CPU ms to the first 200: user + system time of the Larder process (all its threads) when the first 200 arrived, from /proc (10 ms ticks): less changed by other load on the machine than the wall time.',
      `Crates in Larder's SQLite database (${sizes.join(' and ')}, a data directory each, the larger seeded on top of a copy of the smaller, ${(seedMs / 1000).toFixed(0)} s of seeding in all); nginx serves the same files from disk. OS page cache warm (not dropped); 1-min load average at the start: ${load}.`,
      ...phaseNotes,
    ],
  };
}
