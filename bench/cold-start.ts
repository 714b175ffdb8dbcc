import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, ROOT, startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import { freePort, stopChild } from './lib/procs.js';
import type { BenchReport } from './lib/results.js';
import { indexFile, seedCargoIndex, type IndexFile } from './lib/seed.js';
import { median, ratio } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = 10_000;
const RUNS = 5;

/** Versions per crate, as in index-read: mostly a few, a Pareto tail of hundreds. */
function versionCount(i: number): number {
  const u = ((i * 2654435761) % 4294967296) / 4294967296 || 0.5;
  return Math.min(400, Math.max(1, Math.round(3 * Math.pow(u, -0.6))));
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

/** Spawns a server with `spawnIt` and measures ms until `url` first answers 200; then stops it. */
async function coldStart(spawnIt: () => ChildProcess, url: string, body: Buffer, signal: NodeJS.Signals): Promise<number> {
  const started = performance.now();
  const child = spawnIt();
  try {
    return (await first200(url, body, child)) - started;
  } finally {
    await stopChild(child, signal);
  }
}

/** cold-start: `larder serve` with 10,000 crates, spawn to first 200 on an index file, against nginx. */
export async function coldStartBench(dir: string): Promise<BenchReport> {
  ensureTools(['nginx']);
  const load = os.loadavg()[0].toFixed(1);
  const files: IndexFile[] = [];
  for (let i = 0; i < CRATES; i++) files.push(indexFile(`bench-crate-${i.toString(36)}`, versionCount(i)));
  const data = path.join(dir, 'larder');
  const www = path.join(dir, 'www');
  await seedCargoIndex(data, files, www);
  const target = files[CRATES >> 1];

  // One untimed start of each: Larder bootstraps its admin token; nginx writes the config reused below.
  await (await startLarder({ data, tls: false })).stop();
  const nginxDir = path.join(dir, 'nginx');
  const first = await startNginx({ dir: nginxDir, root: www });
  await first.stop();
  const nginxPort = first.port;
  const larderPort = await freePort();

  const log = fs.openSync(path.join(data, 'larder.log'), 'a');
  const larder = () =>
    spawn(
      process.execPath,
      [path.join(ROOT, 'bin/larder.js'), 'serve', '--data', data, '--listen', `127.0.0.1:${larderPort}`, '--tls', 'off'],
      {
        cwd: data,
        env: { ...process.env, LARDER_CONFIG: '', LARDER_ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
        stdio: ['ignore', log, log],
      },
    );
  const nginx = () => spawn('nginx', ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });

  const times: Record<string, number[]> = { nginx: [], larder: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const name of i % 2 ? ['larder', 'nginx'] : ['nginx', 'larder']) {
      const port = name === 'larder' ? larderPort : nginxPort;
      const ms = await coldStart(
        name === 'larder' ? larder : nginx,
        `http://127.0.0.1:${port}/cargo/index/${target.path}`,
        target.body,
        name === 'larder' ? 'SIGTERM' : 'SIGQUIT',
      );
      times[name].push(ms);
    }
  }
  fs.closeSync(log);
  const [n, l] = [median(times.nginx), median(times.larder)];
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  return {
    name: 'cold-start',
    table: [
      ['server', 'median ms', 'runs ms', 'ratio'],
      ['nginx', n.toFixed(1), fmt(times.nginx), ''],
      ['larder', l.toFixed(1), fmt(times.larder), ratio(l, n)],
    ],
    targets: [{ what: `Larder cold start ${l.toFixed(0)} ms with ${CRATES} crates (target < 1000 ms)`, ok: l < 1000 }],
    notes: [
      `Spawn to the first 200 (right bytes) on one index file (${target.path}, ${target.body.length} B), plain HTTP, polled by back-to-back GETs (new connection each) from the bench process; median of ${RUNS} starts per server, alternating, after one untimed start of each.`,
      `${CRATES} crates in Larder's SQLite database; nginx serves the same files from disk. OS page cache warm (not dropped); 1-min load average at the start: ${load}.`,
    ],
  };
}
