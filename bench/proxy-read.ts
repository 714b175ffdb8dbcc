import fs from 'node:fs';
import path from 'node:path';
import { h2load, type LoadResult } from './lib/h2load.js';
import { request } from './lib/http.js';
import { startLarder } from './lib/larder.js';
import type { BenchReport } from './lib/results.js';
import { seedCargoIndex, indexFile, versionCount, type IndexFile } from './lib/seed.js';
import { countsSince, startStaticUpstream, writeUpstreamConfig, type UpstreamCounts } from './lib/static-upstream.js';
import { ratio, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = Number(process.env.BENCH_CRATES ?? 10_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200_000);
const CLIENTS = 100;
/** Index files fetched at once while warming the proxy. */
const WARM_CONCURRENCY = 16;

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const describeCounts = (c: UpstreamCounts) => `${c.total} (index ${c.index}, config.json ${c.config}, downloads ${c.download})`;

/**
 * proxy-read: cache-hit index reads from a Cargo proxy against the same files from a hosted repo,
 * in one Larder process, under the same Zipf load (issue 9: proxy ≥ 0.9x hosted req/s).
 */
export async function proxyRead(dir: string): Promise<BenchReport> {
  ensureTools(['h2load']);
  const files: IndexFile[] = [];
  for (let i = 0; i < CRATES; i++) files.push(indexFile(`bench-crate-${i.toString(36)}`, versionCount(i)));
  const sizes = files.map((f) => f.body.length).sort((a, b) => a - b);

  // The fake crates.io serves the same index files the hosted repo holds.
  const upRoot = path.join(dir, 'upstream');
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(upRoot, f.path)), { recursive: true });
    fs.writeFileSync(path.join(upRoot, f.path), f.body);
  }
  const upstream = await startStaticUpstream(upRoot);
  writeUpstreamConfig(upRoot, upstream.url);

  const data = path.join(dir, 'larder');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(
    path.join(data, 'larder.toml'),
    [
      '[outbound]',
      'allow_private = ["127.0.0.1"]',
      '',
      '[[repos]]',
      'name = "hosted"',
      'format = "cargo"',
      'kind = "hosted"',
      '',
      '[[repos]]',
      'name = "proxy"',
      'format = "cargo"',
      'kind = "proxy"',
      `upstream = "sparse+${upstream.url}/"`,
      // Long enough that every read of the run is a cache hit, never a revalidation.
      'ttl = "30d"',
      '',
    ].join('\n'),
  );
  await seedCargoIndex(data, files, null, 'hosted');

  // Hot crates are a random subset, as in index-read; both repos get the same sample.
  const next = zipfSampler(CRATES, 1.0);
  const order = files.map((_, i) => i).sort((a, b) => ((a * 7919) % CRATES) - ((b * 7919) % CRATES));
  const sample = Array.from({ length: 100_000 }, () => files[order[next()]].path);
  const uris = (url: string, repo: string) => {
    const file = path.join(dir, `uris-${repo}.txt`);
    fs.writeFileSync(file, sample.map((p) => `${url}/${repo}/index/${p}`).join('\n') + '\n');
    return file;
  };

  const rows: string[][] = [['transport', 'repo', 'req/s', 'p50 ms', 'p99 ms', 'non-200', 'req/s proxy/hosted', 'p99 proxy/hosted']];
  const targets: BenchReport['targets'] = [];
  const notes: string[] = [];
  const non200 = (r: LoadResult) => r.requests - (r.statuses['200'] ?? 0);
  try {
    for (const tls of [true, false]) {
      const transport = tls ? 'TLS + HTTP/2' : 'HTTP/1.1';
      const larder = await startLarder({ data, tls, env: { LARDER_WORKERS: '1' } });
      try {
        const ca = larder.caCertPath ? fs.readFileSync(larder.caCertPath) : null;
        // Warm the proxy: every file once through it, checked byte for byte against the upstream's.
        const beforeWarm = upstream.counts();
        await eachLimit(files, WARM_CONCURRENCY, async (f) => {
          const res = await request(`${larder.url}/proxy/index/${f.path}`, { ca });
          if (res.status !== 200 || !res.body.equals(f.body))
            throw new Error(`warming the proxy: ${f.path} answered ${res.status}${res.status === 200 ? ' with other bytes' : ''}`);
        });
        notes.push(
          `${transport}: warming fetched ${files.length} files through the proxy; upstream requests ${describeCounts(countsSince(upstream.counts(), beforeWarm))}.`,
        );

        const lists = { hosted: uris(larder.url, 'hosted'), proxy: uris(larder.url, 'proxy') };
        for (const list of Object.values(lists))
          await h2load({ uris: list, clients: CLIENTS, requests: Math.min(20_000, REQUESTS), h1: !tls, dir });
        const beforeMeasure = upstream.counts();
        const hosted = await h2load({ uris: lists.hosted, clients: CLIENTS, requests: REQUESTS, h1: !tls, dir });
        const proxy = await h2load({ uris: lists.proxy, clients: CLIENTS, requests: REQUESTS, h1: !tls, dir });
        const during = countsSince(upstream.counts(), beforeMeasure);

        rows.push([
          transport,
          'hosted',
          hosted.reqPerSec.toFixed(0),
          hosted.p50ms.toFixed(2),
          hosted.p99ms.toFixed(2),
          String(non200(hosted)),
          '',
          '',
        ]);
        rows.push([
          transport,
          'proxy',
          proxy.reqPerSec.toFixed(0),
          proxy.p50ms.toFixed(2),
          proxy.p99ms.toFixed(2),
          String(non200(proxy)),
          ratio(proxy.reqPerSec, hosted.reqPerSec),
          ratio(proxy.p99ms, hosted.p99ms),
        ]);
        targets.push({
          what: `${transport}: proxy cache hits ${ratio(proxy.reqPerSec, hosted.reqPerSec)} of hosted req/s (target ≥ 0.9x)`,
          ok: proxy.reqPerSec >= 0.9 * hosted.reqPerSec,
        });
        targets.push({
          what: `${transport}: upstream requests while measuring: ${describeCounts(during)} (target 0)`,
          ok: during.total === 0,
        });
        for (const [name, r] of [
          ['hosted', hosted],
          ['proxy', proxy],
        ] as const)
          if (non200(r) > 0) targets.push({ what: `${transport}, ${name}: every response was 200 (${non200(r)} were not)`, ok: false });
      } finally {
        await larder.stop();
      }
    }
  } finally {
    await upstream.close();
  }
  return {
    name: 'proxy-read',
    table: rows,
    targets,
    notes: [
      `${CRATES} index files (as index-read), median ${sizes[CRATES >> 1]} B, p99 ${sizes[Math.floor(CRATES * 0.99)]} B, max ${sizes[CRATES - 1]} B; one Larder process (workers 1) with a hosted Cargo repo holding them and a Cargo proxy (ttl 30d) of a local static fake crates.io serving the same files.`,
      `Per transport: the proxy warmed by fetching every file once through it (bytes checked), a ${Math.min(20_000, REQUESTS)}-request warm-up of each repo, then ${REQUESTS} requests by ${CLIENTS} connections (h2load, 10 streams each over h2), the same Zipf s=1 sample of URIs for /hosted/index/… then /proxy/index/….`,
      ...notes,
    ],
  };
}
