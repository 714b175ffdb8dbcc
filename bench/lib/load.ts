import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './larder.js';
import { run } from './procs.js';

/** What the load process sends: one entry per request, in order, `concurrency` at a time. */
export interface LoadJob {
  method: 'GET' | 'PUT';
  /** Each request's URL and, for a PUT, the file holding its body (read into memory before timing). */
  requests: Array<{ url: string; bodyFile?: string }>;
  headers?: Record<string, string>;
  concurrency: number;
  /** When set, every response body is hashed as it streams in and must have this SHA-256 (hex). */
  sha256?: string;
  /** Report each request's status in order (`LoadReport.perRequest`): which publishes were acknowledged. */
  recordStatuses?: boolean;
  /** Stop sending new requests once this file exists (checked every 50 ms): a load that lasts as long as something else. */
  stopFile?: string;
}

/** What the load process measured. */
export interface LoadReport {
  elapsedMs: number;
  /** Per request, from sending until the last body byte arrived. */
  latenciesMs: number[];
  /** Responses by status code; "error" for connection failures. */
  statuses: Record<string, number>;
  bytesIn: number;
  hashMismatches: number;
  /** The first few failures (status and body, or the error), for diagnosis. */
  samples: string[];
  /** With `recordStatuses`: the status of request i at index i (0 = connection error, -1 = not sent: stopped first). */
  perRequest?: number[];
}

const LOADGEN = path.join(ROOT, 'bench/lib/loadgen.ts');

/** Runs a job in a separate Node process (bench/lib/loadgen.ts), so the load is not measured by, or slowed by, this process. */
export async function runLoad(job: LoadJob, dir: string): Promise<LoadReport> {
  const file = path.join(dir, `load-job-${process.hrtime.bigint()}.json`);
  fs.writeFileSync(file, JSON.stringify(job));
  const res = await run(process.execPath, ['--import', 'tsx', LOADGEN, file], { cwd: ROOT });
  fs.rmSync(file, { force: true });
  if (res.code !== 0) throw new Error(`load generator failed (${res.code}): ${res.stderr}`);
  return JSON.parse(res.stdout) as LoadReport;
}

/** Requests answered with a status other than `ok` (connection errors included). */
export function failures(r: LoadReport, ok: (status: number) => boolean): number {
  return Object.entries(r.statuses).reduce((n, [s, c]) => (ok(Number(s)) ? n : n + c), 0);
}
