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
  };
}
