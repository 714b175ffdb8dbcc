import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

const MiB = 2 ** 20;

/** A .tar.gz with small text files and one file of `zeros` zero bytes, built as a stream (a small upload that inflates a lot). */
export async function zerosTarGz(files: Record<string, string>, zerosName: string, zeros: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collecting = pipeline(pack, createGzip({ level: 9 }), async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) chunks.push(c);
  });
  for (const [name, body] of Object.entries(files)) pack.entry({ name }, body);
  const entry = pack.entry({ name: zerosName, size: zeros });
  const block = Buffer.alloc(MiB);
  for (let left = zeros; left > 0; left -= block.length) {
    if (!entry.write(block.subarray(0, Math.min(block.length, left)))) await new Promise<void>((r) => entry.once('drain', () => r()));
  }
  entry.end(Buffer.alloc(0));
  pack.finalize();
  await collecting;
  return Buffer.concat(chunks);
}

function healthz(baseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(`${baseUrl}/-/healthz`, { agent: false }, (res) => {
        res.resume().on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`healthz answered ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/**
 * Runs `task` while probing `GET /-/healthz` over a real socket and sampling this process's RSS (the
 * server runs in it): the worst health-check latency (ms), the longest event-loop delay (ms) and the RSS
 * growth (bytes) while it ran.
 */
export async function watchServer<T>(
  baseUrl: string,
  task: () => Promise<T>,
): Promise<{ result: T; worstLatency: number; rssGrowth: number; worstLoopDelay: number }> {
  await new Promise((r) => setTimeout(r, 200));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const base = process.memoryUsage().rss;
  let peak = base;
  let worstLatency = 0;
  let done = false;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const probing = (async () => {
    while (!done) {
      const t = performance.now();
      await healthz(baseUrl);
      worstLatency = Math.max(worstLatency, performance.now() - t);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    const result = await task();
    return { result, worstLatency, rssGrowth: Math.max(peak, process.memoryUsage().rss) - base, worstLoopDelay: loop.max / 1e6 };
  } finally {
    loop.disable();
    done = true;
    clearInterval(sampler);
    await probing;
  }
}
