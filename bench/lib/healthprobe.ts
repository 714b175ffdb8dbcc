/**
 * Health probe, run as its own process: `node --import tsx bench/lib/healthprobe.ts URL CA_FILE|- INTERVAL_MS`.
 * Sends `GET URL` every INTERVAL_MS on a schedule (not after the previous answer, so a stalled server
 * shows as many slow samples, not one) over keep-alive connections of its own, and prints one line
 * per request: `scheduledEpochMs latencyMs status`. On SIGTERM, requests still waiting are printed
 * with status 0 and the time they have waited, then it exits.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [url, caFile, intervalArg] = process.argv.slice(2);
const interval = Number(intervalArg);
const secure = url.startsWith('https:');
const agentOpts = { keepAlive: true, maxSockets: 16 };
const agent = secure
  ? new https.Agent({ ...agentOpts, ca: caFile && caFile !== '-' ? fs.readFileSync(caFile) : undefined })
  : new http.Agent(agentOpts);
const pending = new Set<{ scheduled: number; started: number }>();
const out: string[] = [];
const flush = () => {
  if (out.length) process.stdout.write(out.splice(0).join(''));
};

function probe(scheduled: number): void {
  const entry = { scheduled, started: performance.now() };
  pending.add(entry);
  const done = (status: number) => {
    if (!pending.delete(entry)) return;
    out.push(`${scheduled} ${(performance.now() - entry.started).toFixed(3)} ${status}\n`);
  };
  const req = (secure ? https : http).get(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => done(res.statusCode ?? 0));
    res.on('error', () => done(-1));
  });
  req.on('error', () => done(-1));
}

const origin = Date.now();
let n = 0;
function tick(): void {
  // Catch up on ticks a busy load generator missed, each with its own scheduled time.
  while (origin + n * interval <= Date.now()) probe(origin + n++ * interval);
  flush();
  setTimeout(tick, Math.max(1, origin + n * interval - Date.now()));
}
tick();

process.on('SIGTERM', () => {
  const now = performance.now();
  for (const p of pending) out.push(`${p.scheduled} ${(now - p.started).toFixed(3)} 0\n`);
  pending.clear();
  flush();
  process.stdout.write('', () => process.exit(0));
});
