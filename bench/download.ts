import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCrate, newCrateJson, publishBody, sha256Hex } from '../test/support/cargo.js';
import { request } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, startLarder } from './lib/larder.js';
import { failures, runLoad, type LoadReport } from './lib/load.js';
import { startNginx } from './lib/nginx.js';
import type { BenchReport } from './lib/results.js';
import { sampleRss } from './lib/rss.js';
import { percentile, ratio } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const MiB = 1024 * 1024;
const MB = 1e6;
const PAYLOAD = 50 * MiB;
const DOWNLOADS = 100;
const CONCURRENCY = 100;
const RSS_GROWTH_LIMIT = 20 * MB;
const LARDER_ENV = { LARDER_LIMITS_MAX_CRATE_SIZE: '64MiB', LARDER_LIMITS_MAX_UNPACKED_SIZE: '128MiB' };

/** Throws unless every download was a 200 whose body had the crate's SHA-256. */
function check(server: string, r: LoadReport): void {
  const bad = failures(r, (s) => s === 200);
  if (bad || r.hashMismatches || r.latenciesMs.length !== DOWNLOADS) {
    throw new Error(`${server}: ${bad} non-200, ${r.hashMismatches} hash mismatches of ${DOWNLOADS}: ${r.samples.join('\n')}`);
  }
}

/** download: 100 concurrent downloads of one 50 MiB .crate, hashed by the load process; Larder against nginx static, with Larder's RSS. */
export async function download(dir: string): Promise<BenchReport> {
  ensureTools(['nginx']);
  const loadBefore = os.loadavg()[0];
  const name = 'bench-big';
  const vers = '1.0.0';
  const crate = await makeCrate({ name, vers, files: { 'data.bin': randomBytes(PAYLOAD) } });
  const cksum = sha256Hex(crate);
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'crates'), { recursive: true });
  fs.writeFileSync(path.join(www, 'crates', `${name}-${vers}.crate`), crate);

  const data = path.join(dir, 'larder');
  fs.mkdirSync(data);
  let larder = await startLarder({ data, tls: false, env: LARDER_ENV });
  const published = await request(`${larder.url}/cargo/api/v1/crates/new`, {
    method: 'PUT',
    headers: { authorization: BENCH_ADMIN_TOKEN },
    body: publishBody(newCrateJson({ name, vers }), crate),
  });
  if (published.status !== 200) throw new Error(`publishing the big crate failed: ${published.status} ${published.body.toString()}`);
  // Restart, so the baseline is a server that has not just buffered a 50 MiB publish.
  await larder.stop();
  larder = await startLarder({ data, tls: false, env: LARDER_ENV });
  const nginx = await startNginx({ dir: path.join(dir, 'nginx'), root: www });

  const job = (url: string, downloads = DOWNLOADS) => ({
    method: 'GET' as const,
    requests: Array.from({ length: downloads }, () => ({ url })),
    concurrency: Math.min(CONCURRENCY, downloads),
    sha256: cksum,
  });
  try {
    const warm = await request(`${larder.url}/cargo/index/config.json`);
    if (warm.status !== 200) throw new Error(`larder config.json: ${warm.status}`);
    const fresh = larder.rss();
    // Warm-up: one whole download, so what a server pays once (the download path compiled, V8's young
    // generation grown to its working size) is in the baseline and the growth is what concurrency costs.
    const warmup = await runLoad(job(`${larder.url}/cargo/api/v1/crates/${name}/${vers}/download`, 1), dir);
    if (failures(warmup, (s) => s === 200) || warmup.hashMismatches)
      throw new Error(`larder warm-up download: ${warmup.samples.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const baseline = larder.rss();
    const sampler = sampleRss(() => larder.rss());
    const l = await runLoad(job(`${larder.url}/cargo/api/v1/crates/${name}/${vers}/download`), dir);
    const maxRss = sampler.stop();
    check('larder', l);
    const n = await runLoad(job(`${nginx.url}/crates/${name}-${vers}.crate`), dir);
    check('nginx', n);

    const mbps = (r: LoadReport) => r.bytesIn / MB / (r.elapsedMs / 1000);
    const cells = (server: string, r: LoadReport) => [
      server,
      String(r.latenciesMs.length),
      (r.elapsedMs / 1000).toFixed(2),
      mbps(r).toFixed(0),
      (percentile(r.latenciesMs, 50) / 1000).toFixed(2),
      (percentile(r.latenciesMs, 99) / 1000).toFixed(2),
    ];
    const growth = maxRss - baseline;
    const coldGrowth = maxRss - fresh;
    const mb = (b: number) => (b / MB).toFixed(1);
    return {
      name: 'download',
      table: [
        [
          'server',
          'downloads',
          'total s',
          'MB/s',
          'p50 s',
          'p99 s',
          'MB/s ratio',
          'RSS fresh MB',
          'RSS before MB',
          'RSS max MB',
          'RSS growth MB',
        ],
        [...cells('nginx', n), '', '', '', '', ''],
        [...cells('larder', l), ratio(mbps(l), mbps(n)), mb(fresh), mb(baseline), mb(maxRss), mb(growth)],
      ],
      targets: [
        {
          what: `Larder RSS growth ${mb(growth)} MB during ${CONCURRENCY} concurrent downloads (target < ${mb(RSS_GROWTH_LIMIT)} MB)`,
          ok: growth < RSS_GROWTH_LIMIT,
        },
      ],
      notes: [
        `One ${(crate.length / MB).toFixed(1)} MB .crate (random data), ${DOWNLOADS} downloads at concurrency ${CONCURRENCY} over keep-alive HTTP/1.1 from a separate Node process that streams and SHA-256-hashes each body; every body matched the crate's checksum.`,
        `Larder: restarted after the publish; "RSS fresh" right after the restart, "RSS before" (the baseline) after one warm-up download and 1 s; growth = max during the run - baseline (${mb(coldGrowth)} MB from the fresh start). RSS sampled every 100 ms; nginx: static file, sendfile on. MB = 10^6 bytes.`,
        `1-minute load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after (this bench alone keeps it near 2; well above that, other work shared the CPUs).`,
      ],
    };
  } finally {
    await larder.stop();
    await nginx.stop();
  }
}
