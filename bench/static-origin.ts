import fs from 'node:fs';
import path from 'node:path';
import { simplePublishBody } from '../test/support/cargo.js';
import { startStaticNginx } from '../test/support/nginx-static.js';
import { indexPath } from '../src/formats/cargo/names.js';
import { h2load, type LoadResult } from './lib/h2load.js';
import { BENCH_ADMIN_TOKEN, startLarder } from './lib/larder.js';
import { startNginx } from './lib/nginx.js';
import type { BenchReport } from './lib/results.js';
import { indexFile, seedCargoIndex, versionCount, type IndexFile } from './lib/seed.js';
import { percentile, ratio, zipfSampler } from './lib/stats.js';
import { ensureTools } from './lib/tools.js';

const CRATES = 10_000;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200_000);
const CLIENTS = 100;
const PUBLISHES = Number(process.env.BENCH_PUBLISHES ?? 200);

/**
 * static-origin: Larder writes a hosted Cargo repo's index as files (static_origin) and nginx serves them with
 * docs/deploy/nginx-static-origin.conf. Index reads through that nginx against plain nginx over a copy of the same
 * files; then how soon a publish can be read through nginx against through Larder itself.
 */
export async function staticOrigin(dir: string): Promise<BenchReport> {
  ensureTools(['nginx', 'h2load']);
  const files: IndexFile[] = [];
  for (let i = 0; i < CRATES; i++) files.push(indexFile(`bench-crate-${i.toString(36)}`, versionCount(i)));
  const data = path.join(dir, 'larder');
  const www = path.join(dir, 'www');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(
    path.join(data, 'larder.toml'),
    `[[repos]]\nname = "crates"\nformat = "cargo"\nkind = "hosted"\nstatic_origin = "${path.join(www, 'crates')}"\n`,
  );
  // Seeded through the registry's document store, so Larder's static origin writes every file, as publishes would.
  const seedStart = performance.now();
  await seedCargoIndex(data, files, null, 'crates');
  const seedMs = performance.now() - seedStart;
  const plainRoot = path.join(dir, 'plain');
  fs.cpSync(www, plainRoot, { recursive: true });
  const written = files.filter((f) => fs.existsSync(path.join(www, 'crates', 'index', f.path))).length;
  if (written !== CRATES) throw new Error(`the static origin holds ${written} of ${CRATES} index files`);

  const next = zipfSampler(CRATES, 1.0);
  const order = files.map((_, i) => i).sort((a, b) => ((a * 7919) % CRATES) - ((b * 7919) % CRATES));
  const sample = Array.from({ length: 100_000 }, () => files[order[next()]].path);
  const uris = (name: string, base: string) => {
    const file = path.join(dir, `uris-${name}.txt`);
    fs.writeFileSync(file, sample.map((p) => `${base}/crates/index/${p}`).join('\n') + '\n');
    return file;
  };

  const larder = await startLarder({ data, tls: false });
  const front = await startStaticNginx({ dir: path.join(dir, 'nginx-static'), root: www, larderPort: larder.port });
  const plain = await startNginx({ dir: path.join(dir, 'nginx-plain'), root: plainRoot });
  const rows: string[][] = [['measure', 'server', 'req/s', 'p50 ms', 'p99 ms', 'non-200', 'ratio']];
  const targets: BenchReport['targets'] = [];
  try {
    // Reads: two rounds, alternating, so neither server always runs on the warmer machine.
    const reads: Record<string, LoadResult[]> = { 'static origin nginx': [], 'plain nginx': [] };
    const lists = { 'static origin nginx': uris('static', front.url), 'plain nginx': uris('plain', plain.url) };
    for (let round = 0; round < 2; round++) {
      for (const name of round === 0
        ? (['static origin nginx', 'plain nginx'] as const)
        : (['plain nginx', 'static origin nginx'] as const)) {
        await h2load({ uris: lists[name], clients: CLIENTS, requests: 20_000, h1: true, dir });
        reads[name].push(await h2load({ uris: lists[name], clients: CLIENTS, requests: REQUESTS, h1: true, dir }));
      }
    }
    const mean = (rs: LoadResult[], f: (r: LoadResult) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    const plainRps = mean(reads['plain nginx'], (r) => r.reqPerSec);
    for (const [name, rs] of Object.entries(reads)) {
      const rps = mean(rs, (r) => r.reqPerSec);
      const non200 = rs.reduce((s, r) => s + r.requests - (r.statuses['200'] ?? 0), 0);
      rows.push([
        'index reads, HTTP/1.1',
        name,
        rps.toFixed(0),
        mean(rs, (r) => r.p50ms).toFixed(2),
        mean(rs, (r) => r.p99ms).toFixed(2),
        String(non200),
        ratio(rps, plainRps),
      ]);
      if (non200 > 0) targets.push({ what: `${name}: every index read answered 200`, ok: false });
    }
    const staticRps = mean(reads['static origin nginx'], (r) => r.reqPerSec);
    targets.push({
      what: `index reads through the static origin's nginx: ${ratio(staticRps, plainRps)} of plain nginx's req/s (target ≈ 1.0x, ≥ 0.9x)`,
      ok: staticRps >= 0.9 * plainRps,
    });

    // Publish → visible: each publish alternately read back through nginx and through Larder, polling from the moment it was sent.
    const visible: Record<string, number[]> = { 'static origin nginx': [], Larder: [] };
    const file = indexPath('latency-probe');
    for (let i = 0; i < PUBLISHES; i++) {
      const vers = `1.0.${i}`;
      const { body } = await simplePublishBody('latency-probe', vers);
      const via = i % 2 === 0 ? 'static origin nginx' : 'Larder';
      const url = `${via === 'Larder' ? larder.url : front.url}/crates/index/${file}`;
      const started = performance.now();
      const res = await fetch(`${larder.url}/crates/api/v1/crates/new`, {
        method: 'PUT',
        headers: { authorization: BENCH_ADMIN_TOKEN },
        body: new Uint8Array(body),
      });
      if (res.status !== 200) throw new Error(`publish ${vers}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      for (let tries = 0; ; tries++) {
        const read = await fetch(url);
        const text = await read.text();
        if (read.status === 200 && text.includes(`"vers":"${vers}"`)) break;
        if (tries > 10_000) throw new Error(`${vers} never became visible through ${via}`);
      }
      visible[via].push(performance.now() - started);
    }
    const larderP = { p50: percentile(visible.Larder, 50), p99: percentile(visible.Larder, 99) };
    for (const [via, ms] of Object.entries(visible)) {
      const p50 = percentile(ms, 50);
      const p99 = percentile(ms, 99);
      rows.push([
        'publish → visible',
        via,
        '',
        p50.toFixed(2),
        p99.toFixed(2),
        '',
        `p50 ${ratio(p50, larderP.p50)}, p99 ${ratio(p99, larderP.p99)}`,
      ]);
    }
    const nginxP50 = percentile(visible['static origin nginx'], 50);
    targets.push({
      what: `publish → visible through nginx: p50 ${ratio(nginxP50, larderP.p50)} of through Larder (target ≤ 1.2x: the file is written before the publish is answered)`,
      ok: nginxP50 <= 1.2 * larderP.p50,
    });
  } finally {
    await plain.stop();
    await front.stop();
    await larder.stop();
  }
  return {
    name: 'static-origin',
    table: rows,
    targets,
    notes: [
      `${CRATES} index files written by Larder's static origin while seeding (${(seedMs / 1000).toFixed(1)} s for the seed, files included); plain nginx serves a copy of the same tree with bench/lib/nginx.ts's config; the static origin's nginx runs docs/deploy/nginx-static-origin.conf.`,
      `Reads: ${REQUESTS} requests by ${CLIENTS} HTTP/1.1 connections (h2load), Zipf s=1 over crates, mean of two alternating rounds; Larder is idle meanwhile (index files never reach it).`,
      `Publish → visible: ${PUBLISHES} sequential publishes of one crate's next version (the index file grows to ${PUBLISHES} lines), timed from sending the publish until a GET shows the version; even ones read through nginx, odd ones through Larder; one client, keep-alive.`,
    ],
  };
}
