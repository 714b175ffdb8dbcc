import fs from 'node:fs';
import path from 'node:path';
import { h2load, type LoadResult } from './lib/h2load.js';
import { request } from './lib/http.js';
import { startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import type { BenchReport } from './lib/results.js';
import { seedCargoIndex, indexFile, type IndexFile } from './lib/seed.js';
import { ratio, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = 10_000;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200_000);
const CLIENTS = 100;

/** Versions per crate: most crates have a few (≈1 KB), a Pareto tail has hundreds (≤ 100 KB). */
function versionCount(i: number): number {
  const u = ((i * 2654435761) % 4294967296) / 4294967296 || 0.5;
  return Math.min(400, Math.max(1, Math.round(3 * Math.pow(u, -0.6))));
}

/** index-read: random index files (Zipf) by 100 connections, Larder against nginx. */
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
  const uris = (base: string) => {
    const file = path.join(dir, `uris-${base.replace(/\W/g, '_')}.txt`);
    fs.writeFileSync(file, sample.map((p) => `${base}/cargo/index/${p}`).join('\n') + '\n');
    return file;
  };

  const rows: string[][] = [['transport', 'server', 'req/s', 'p50 ms', 'p99 ms', 'non-200', 'req/s ratio', 'p99 ratio']];
  const targets: BenchReport['targets'] = [];
  const hot = files[order[0]];

  for (const tls of [true, false]) {
    const transport = tls ? 'TLS + HTTP/2' : 'HTTP/1.1';
    const larder = await startLarder({ data, tls });
    const ca = larder.caCertPath ? fs.readFileSync(larder.caCertPath) : null;
    const nginx = await startNginx({
      dir: path.join(dir, `nginx-${tls}`), root: nginxRoot,
      tls: tls ? { cert: path.join(data, 'tls', 'server.pem'), key: path.join(data, 'tls', 'server-key.pem') } : undefined,
    });
    try {
      const results: Record<string, { full: LoadResult; notModified: LoadResult }> = {};
      for (const [name, url] of [['nginx', nginx.url], ['larder', larder.url]] as const) {
        const list = uris(url);
        await h2load({ uris: list, clients: CLIENTS, requests: 20_000, h1: !tls, dir }); // warm-up
        const full = await h2load({ uris: list, clients: CLIENTS, requests: REQUESTS, h1: !tls, dir });
        const first = await request(`${url}/cargo/index/${hot.path}`, { ca });
        const etag = String(first.headers.etag);
        const hotList = path.join(dir, `hot-${name}.txt`);
        fs.writeFileSync(hotList, `${url}/cargo/index/${hot.path}\n`);
        const notModified = await h2load({ uris: hotList, clients: CLIENTS, requests: REQUESTS, h1: !tls, dir, headers: [`if-none-match: ${etag}`] });
        results[name] = { full, notModified };
      }
      for (const kind of ['full', 'notModified'] as const) {
        const n = results.nginx[kind];
        const l = results.larder[kind];
        const label = kind === 'full' ? transport : `${transport}, 304`;
        const non200 = (r: LoadResult, ok: string) => String(r.requests - (r.statuses[ok] ?? 0));
        const ok = kind === 'full' ? '200' : '304';
        rows.push([label, 'nginx', n.reqPerSec.toFixed(0), n.p50ms.toFixed(2), n.p99ms.toFixed(2), non200(n, ok), '', '']);
        rows.push([label, 'larder', l.reqPerSec.toFixed(0), l.p50ms.toFixed(2), l.p99ms.toFixed(2), non200(l, ok), ratio(l.reqPerSec, n.reqPerSec), ratio(l.p99ms, n.p99ms)]);
        targets.push({ what: `${label}: req/s ${ratio(l.reqPerSec, n.reqPerSec)} of nginx (target ≥ 0.6x)`, ok: l.reqPerSec >= 0.6 * n.reqPerSec });
        targets.push({ what: `${label}: p99 ${ratio(l.p99ms, n.p99ms)} of nginx (target ≤ 2x)`, ok: l.p99ms <= 2 * n.p99ms });
        if (l.statuses[ok] !== l.requests) targets.push({ what: `${label}: every Larder response was ${ok}`, ok: false });
      }
    } finally {
      await larder.stop();
      await nginx.stop();
    }
  }
  return {
    name: 'index-read',
    table: rows,
    targets,
    notes: [
      `${CRATES} index files, median ${sizes[CRATES >> 1]} B, p99 ${sizes[Math.floor(CRATES * 0.99)]} B, max ${sizes[CRATES - 1]} B; ${REQUESTS} requests by ${CLIENTS} connections (h2load, 10 streams each over h2), Zipf s=1 over crates; 304 rows: one hot file with its ETag in If-None-Match.`,
      'nginx: worker_processes auto, access log on; Larder: one process, request log on.',
    ],
  };
}
