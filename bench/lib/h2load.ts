import fs from 'node:fs';
import path from 'node:path';
import { percentile } from './stats.js';
import { run } from './procs.js';

export interface LoadResult {
  requests: number;
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Every request's latency (ms), when asked for (`keepLatencies`): to merge runs with `combineLoads`. */
  latencies?: number[];
}

/**
 * Several runs against one server as one: their requests over their summed time, percentiles of all their latencies.
 * For a measurement cut into slices interleaved with another server's, so that both see the same stretch of time.
 */
export function combineLoads(runs: LoadResult[]): LoadResult {
  const statuses: Record<string, number> = {};
  for (const r of runs) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const latencies = runs.flatMap((r) => {
    if (!r.latencies) throw new Error('combineLoads needs runs made with keepLatencies');
    return r.latencies;
  });
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const seconds = runs.reduce((t, r) => t + r.requests / r.reqPerSec, 0);
  return {
    requests,
    reqPerSec: requests / seconds,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    statuses,
  };
}

/**
 * Drives a server with h2load (nghttp2) — HTTP/2 over TLS, or HTTP/1.1 with `h1` — from
 * `uris` (a file of absolute URLs, used in order), and computes percentiles from its per-request log.
 */
export async function h2load(opts: {
  uris: string;
  clients: number;
  requests: number;
  h1: boolean;
  streams?: number;
  headers?: string[];
  dir: string;
  threads?: number;
  keepLatencies?: boolean;
}): Promise<LoadResult> {
  const log = path.join(opts.dir, `h2load-${Date.now()}.tsv`);
  const args = [
    '-i',
    opts.uris,
    '-c',
    String(opts.clients),
    '-n',
    String(opts.requests),
    '-t',
    String(opts.threads ?? 1),
    '-m',
    String(opts.h1 ? 1 : (opts.streams ?? 10)),
    '--log-file',
    log,
    ...(opts.h1 ? ['--h1'] : []),
    ...(opts.headers ?? []).flatMap((h) => ['-H', h]),
  ];
  // BENCH_PIN=CPU: the load generator on that CPU alone (the servers measured one process each are pinned elsewhere).
  const pin = process.env.BENCH_PIN;
  const res = pin ? await run('taskset', ['-c', pin, 'h2load', ...args]) : await run('h2load', args);
  if (res.code !== 0) throw new Error(`h2load failed (${res.code}): ${res.stderr || res.stdout}`);
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(res.stdout);
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    if (!line) continue;
    const [, status, micros] = line.split('\t');
    statuses[status] = (statuses[status] ?? 0) + 1;
    latencies.push(Number(micros) / 1000);
  }
  fs.rmSync(log, { force: true });
  return {
    requests: latencies.length,
    reqPerSec: rps ? Number(rps[1]) : NaN,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    statuses,
    ...(opts.keepLatencies ? { latencies } : {}),
  };
}
