/**
 * Load generator, run as its own process: `node --import tsx bench/lib/loadgen.ts job.json`.
 * Sends a LoadJob over keep-alive HTTP/1.1 and prints a LoadReport as JSON on stdout.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { LoadJob, LoadReport } from './load.js';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as LoadJob;
const bodies = job.requests.map((r) => (r.bodyFile ? fs.readFileSync(r.bodyFile) : null));
const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
const report: LoadReport = { elapsedMs: 0, latenciesMs: [], statuses: {}, bytesIn: 0, hashMismatches: 0, samples: [] };
if (job.recordStatuses) report.perRequest = job.requests.map(() => -1);
let stopped = false;
const stopCheck = job.stopFile ? setInterval(() => (stopped = fs.existsSync(job.stopFile!)), 50) : null;

/** One request; resolves when its body has been read to the end (hashed when the job says so). */
function send(i: number): Promise<void> {
  const { url } = job.requests[i];
  const body = bodies[i];
  const headers: Record<string, string> = { ...job.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const failed = (what: string) => {
      if (settled) return;
      settled = true;
      report.statuses.error = (report.statuses.error ?? 0) + 1;
      if (report.perRequest) report.perRequest[i] = 0;
      if (report.samples.length < 5) report.samples.push(`${url}: ${what}`);
      resolve();
    };
    const req = http.request(url, { method: job.method, agent, headers }, (res) => {
      const hash = job.sha256 ? createHash('sha256') : null;
      const kept: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        report.bytesIn += c.length;
        if (hash) hash.update(c);
        else if (kept.length < 4) kept.push(c);
      });
      res.on('error', (err) => failed(String(err)));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        report.latenciesMs.push(performance.now() - started);
        const status = res.statusCode ?? 0;
        report.statuses[status] = (report.statuses[status] ?? 0) + 1;
        if (report.perRequest) report.perRequest[i] = status;
        const ok = status >= 200 && status < 300;
        if (ok && hash && hash.digest('hex') !== job.sha256) report.hashMismatches++;
        if (!ok && report.samples.length < 5) report.samples.push(`${status} ${url}: ${Buffer.concat(kept).toString('utf8', 0, 300)}`);
        resolve();
      });
    });
    req.on('error', (err) => failed(String(err)));
    req.end(body ?? undefined);
  });
}

let next = 0;
async function worker(): Promise<void> {
  while (next < job.requests.length && !stopped) await send(next++);
}

const started = performance.now();
await Promise.all(Array.from({ length: Math.min(job.concurrency, job.requests.length) }, worker));
report.elapsedMs = performance.now() - started;
if (stopCheck) clearInterval(stopCheck);
agent.destroy();
process.stdout.write(JSON.stringify(report));
