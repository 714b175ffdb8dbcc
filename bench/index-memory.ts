import os from 'node:os';
import path from 'node:path';
import { DEFAULT_INDEX_CACHE_BYTES } from '../src/core/config/types.js';
import { request } from './lib/http.js';
import { startLarder } from './lib/larder.js';
import { failures, runLoad } from './lib/load.js';
import type { BenchReport } from './lib/results.js';
import { sampleRss } from './lib/rss.js';
import { indexFile, seedCargoIndex, versionCount, type IndexFile } from './lib/seed.js';

const DOCUMENTS = 100_000;
const CONCURRENCY = 16;
const MB = 1e6;
const MiB = 2 ** 20;

/** One value of a Prometheus text exposition (a metric without labels). */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
  if (!m) throw new Error(`/-/metrics has no ${name}`);
  return Number(m[1]);
}

/**
 * index-memory: 100,000 Cargo index files read once each through one `larder serve` with the default
 * `[cache] index_documents` budget; RSS before and after, and the cache's accounted bytes against the budget.
 */
export async function indexMemory(dir: string): Promise<BenchReport> {
  const loadBefore = os.loadavg()[0];
  const files: IndexFile[] = [];
  for (let i = 0; i < DOCUMENTS; i++) files.push(indexFile(`mem-crate-${i.toString(36)}`, versionCount(i)));
  const bodyBytes = files.reduce((n, f) => n + f.body.length, 0);
  const data = path.join(dir, 'larder');
  await seedCargoIndex(data, files, null);

  const larder = await startLarder({ data, tls: false });
  try {
    const url = (f: IndexFile) => `${larder.url}/cargo/index/${f.path}`;
    const warm = await request(url(files[0]!));
    if (warm.status !== 200 || !warm.body.equals(files[0]!.body)) throw new Error(`warm-up read: ${warm.status}`);
    const before = larder.rss();
    const sampler = sampleRss(() => larder.rss());
    const r = await runLoad({ method: 'GET', requests: files.map((f) => ({ url: url(f) })), concurrency: CONCURRENCY }, dir);
    const maxRss = sampler.stop();
    const bad = failures(r, (s) => s === 200);
    if (bad) throw new Error(`${bad} reads were not 200: ${r.samples.join('\n')}`);
    if (r.bytesIn !== bodyBytes) throw new Error(`read ${r.bytesIn} bytes, the documents hold ${bodyBytes}`);
    const after = larder.rss();
    const text = (await request(`${larder.url}/-/metrics`)).body.toString();
    const bytes = metric(text, 'larder_index_cache_bytes');
    const entries = metric(text, 'larder_index_cache_entries');
    const budget = metric(text, 'larder_index_cache_budget_bytes');
    const heapUsed = metric(text, 'larder_nodejs_heap_size_used_bytes');
    // The first documents were evicted long ago: they come from the database again, byte for byte.
    const again = await request(url(files[0]!));
    if (again.status !== 200 || !again.body.equals(files[0]!.body)) throw new Error(`re-read of an evicted document: ${again.status}`);

    const mb = (b: number) => (b / MB).toFixed(1);
    return {
      name: 'index-memory',
      table: [
        [
          'documents',
          'body MB',
          'reads/s',
          'RSS before MB',
          'RSS max MB',
          'RSS after MB',
          'heap used MB',
          'cache MB',
          'budget MB',
          'entries',
        ],
        [
          String(DOCUMENTS),
          mb(bodyBytes),
          (DOCUMENTS / (r.elapsedMs / 1000)).toFixed(0),
          mb(before),
          mb(maxRss),
          mb(after),
          mb(heapUsed),
          mb(bytes),
          mb(budget),
          String(entries),
        ],
      ],
      targets: [
        { what: `cache accounted at ${mb(bytes)} MB, within its ${mb(budget)} MB budget`, ok: bytes <= budget },
        { what: `the budget is the default ${DEFAULT_INDEX_CACHE_BYTES / MiB} MiB`, ok: budget === DEFAULT_INDEX_CACHE_BYTES },
      ],
      notes: [
        `${DOCUMENTS} index files (${mb(bodyBytes)} MB of bodies; 1 to 400 versions each) seeded into SQLite, then each read once over HTTP/1.1 at concurrency ${CONCURRENCY}; every read a 200 of the seeded size; the first file, evicted, read again byte for byte.`,
        'Cache bytes count each entry as body + key + validators + measured per-entry overhead (src/registry/index-docs.ts). RSS sampled every 100 ms; MB = 10^6 bytes.',
        `1-minute load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after.`,
      ],
    };
  } finally {
    await larder.stop();
  }
}
