import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { formatPubtime, serializeIndexLine, type IndexLine } from '../src/formats/cargo/index-line.js';
import { indexPath } from '../src/formats/cargo/names.js';
import { crateArchive } from './lib/crate-archive.js';
import { ROOT } from './lib/larder.js';
import type { BenchReport } from './lib/results.js';
import { sampleRss } from './lib/rss.js';
import { countsSince, startStaticUpstream, writeUpstreamConfig, type UpstreamCounts } from './lib/static-upstream.js';
import { peakRssOf } from './lib/procs.js';

const CRATES = Number(process.env.BENCH_CRATES ?? 10_000);
const MB = 1e6;
const RSS_LIMIT = 200 * MB;
/** Bytes of crate names per `larder mirror` command line: well under Linux's ARG_MAX (2 MiB with the default stack). */
const ARGV_BYTES = 1_000_000;

/** A uniform number in (0, 1] from an index and a salt: the same crates every run. */
function unit(i: number, salt: number): number {
  return (((i + 1) * 2654435761 + salt * 40503) % 4294967296) / 4294967296 || 0.5;
}

/** Versions per crate: a Pareto few (P(≥ k) = k^-1.5, at most 20; mean ≈ 2.2). */
const versionsOf = (i: number) => Math.min(20, Math.floor(Math.pow(unit(i, 1), -2 / 3)));
/** Compressed size of a .crate: Pareto from 4 KB (P(> 4x KB) = x^-2, at most 256 KB; mean ≈ 8 KB). */
const archiveBytesOf = (i: number, v: number) => Math.min(256_000, Math.round(4000 * Math.pow(unit(i * 31 + v, 2), -0.5)));

/** Writes a crates.io-like tree under `root`: index files whose lines' `cksum` are the generated .crate files'. */
function writeUpstream(root: string, names: string[]): { archives: number; archiveBytes: number; indexBytes: number } {
  let archives = 0;
  let archiveBytes = 0;
  let indexBytes = 0;
  names.forEach((name, i) => {
    const lines: string[] = [];
    for (let v = 0; v < versionsOf(i); v++) {
      const vers = `1.${v}.0`;
      const crate = crateArchive(name, vers, archiveBytesOf(i, v), i * 64 + v);
      const dir = path.join(root, 'crates', name, vers);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'download'), crate);
      const line: IndexLine = {
        name,
        vers,
        deps: [],
        cksum: createHash('sha256').update(crate).digest('hex'),
        features: {},
        yanked: false,
        links: null,
        rust_version: null,
        pubtime: formatPubtime(Date.UTC(2025, 0, 1) + v * 86_400_000),
      };
      lines.push(serializeIndexLine(line) + '\n');
      archives++;
      archiveBytes += crate.length;
    }
    const body = lines.join('');
    fs.mkdirSync(path.dirname(path.join(root, indexPath(name))), { recursive: true });
    fs.writeFileSync(path.join(root, indexPath(name)), body);
    indexBytes += Buffer.byteLength(body);
  });
  return { archives, archiveBytes, indexBytes };
}

/** What one `larder mirror` run (possibly several processes, one per argv chunk) took and said. */
interface MirrorRun {
  wallMs: number;
  /** The CLI's own "in N s" (registry open and process start excluded), summed over processes. */
  reportedMs: number;
  packages: number;
  archivesHeld: number;
  archivesFetched: number;
  /** Peak resident memory of the `larder mirror` process (VmHWM, sampled every 50 ms). */
  peakRss: number;
  upstream: UpstreamCounts;
  /** `larder mirror` processes run (one per argv chunk). */
  processes: number;
}

/** Runs `larder mirror crates NAME…` from this checkout's build, in argv-sized chunks, one process at a time. */
async function runMirror(cwd: string, data: string, names: string[], log: string, counts: () => UpstreamCounts): Promise<MirrorRun> {
  const chunks: string[][] = [[]];
  let bytes = 0;
  for (const n of names) {
    if (bytes + n.length + 1 > ARGV_BYTES) {
      chunks.push([]);
      bytes = 0;
    }
    chunks[chunks.length - 1].push(n);
    bytes += n.length + 1;
  }
  const before = counts();
  const out: MirrorRun = {
    wallMs: 0,
    reportedMs: 0,
    packages: 0,
    archivesHeld: 0,
    archivesFetched: 0,
    peakRss: 0,
    upstream: before,
    processes: chunks.length,
  };
  for (const chunk of chunks) {
    const err = fs.openSync(log, 'a');
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/larder.js'), 'mirror', 'crates', ...chunk, '--data', data], {
      cwd,
      env: { ...process.env, LARDER_CONFIG: '' },
      stdio: ['ignore', 'pipe', err],
    });
    const rss = sampleRss(() => peakRssOf(child.pid!), 50);
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c ?? -1));
    });
    out.wallMs += performance.now() - started;
    out.peakRss = Math.max(out.peakRss, rss.stop());
    fs.closeSync(err);
    const tail = () => fs.readFileSync(log, 'utf8').split('\n').slice(-20).join('\n');
    if (code !== 0) throw new Error(`larder mirror exited with ${code}:\n${stdout}\n${tail()}`);
    const m = /mirrored (\d+) package\(s\) and (\d+) artifact\(s\) into "crates" in ([\d.]+) s: (\d+) artifact\(s\) fetched/.exec(stdout);
    if (!m) throw new Error(`larder mirror said something unexpected:\n${stdout}\n${tail()}`);
    out.packages += Number(m[1]);
    out.archivesHeld += Number(m[2]);
    out.reportedMs += Number(m[3]) * 1000;
    out.archivesFetched += Number(m[4]);
  }
  out.upstream = countsSince(counts(), before);
  return out;
}

/**
 * mirror: `larder mirror` fills a Cargo proxy with every crate of a local crates.io-like upstream
 * (index files and .crate archives), then runs again with nothing missing (issue 9: peak RSS < 200 MB).
 */
export async function mirrorBench(dir: string): Promise<BenchReport> {
  const names = Array.from({ length: CRATES }, (_, i) => `bench-crate-${i.toString(36)}`);
  const upRoot = path.join(dir, 'upstream');
  process.stderr.write(`generating ${CRATES} crates…\n`);
  const made = writeUpstream(upRoot, names);
  const upstream = await startStaticUpstream(upRoot);
  writeUpstreamConfig(upRoot, upstream.url);

  const cwd = path.join(dir, 'work');
  const data = path.join(cwd, 'data');
  fs.mkdirSync(cwd, { recursive: true });
  fs.writeFileSync(
    path.join(cwd, 'larder.toml'),
    [
      '[outbound]',
      'allow_private = ["127.0.0.1"]',
      '',
      '[[repos]]',
      'name = "crates"',
      'format = "cargo"',
      'kind = "proxy"',
      `upstream = "sparse+${upstream.url}/"`,
      // The second run finds every index file fresh, however long the first took.
      'ttl = "1d"',
      '',
    ].join('\n'),
  );
  const log = path.join(dir, 'mirror.log');
  let first: MirrorRun;
  let second: MirrorRun;
  try {
    process.stderr.write(`mirroring ${CRATES} crates, ${made.archives} archives…\n`);
    first = await runMirror(cwd, data, names, log, upstream.counts);
    process.stderr.write('mirroring again (nothing missing)…\n');
    second = await runMirror(cwd, data, names, log, upstream.counts);
  } finally {
    await upstream.close();
  }

  const s = (ms: number) => (ms / 1000).toFixed(1);
  const perSec = (n: number, ms: number) => (n / (ms / 1000)).toFixed(0);
  const rows: string[][] = [
    ['run', 'wall s', 'mirror s', 'index files', 'archives fetched', 'files/s', 'archives/s', 'MB/s', 'peak RSS MB', 'upstream requests'],
  ];
  for (const [label, r] of [
    ['first (empty proxy)', first],
    ['second (nothing missing)', second],
  ] as const) {
    const fetchedBytes = r.archivesFetched > 0 ? made.archiveBytes + made.indexBytes : 0;
    rows.push([
      label,
      s(r.wallMs),
      s(r.reportedMs),
      String(r.packages),
      String(r.archivesFetched),
      perSec(r.packages, r.wallMs),
      perSec(r.archivesFetched, r.wallMs),
      (fetchedBytes / MB / (r.wallMs / 1000)).toFixed(1),
      (r.peakRss / MB).toFixed(1),
      `${r.upstream.total} (index ${r.upstream.index}, config ${r.upstream.config}, downloads ${r.upstream.download})`,
    ]);
  }
  const targets: BenchReport['targets'] = [
    {
      what: `first run: mirrored ${first.packages}/${CRATES} crates and fetched ${first.archivesFetched}/${made.archives} archives, no errors`,
      ok: first.packages === CRATES && first.archivesFetched === made.archives && first.archivesHeld === made.archives,
    },
    {
      what: `first run: peak RSS of larder mirror ${(first.peakRss / MB).toFixed(1)} MB (target < ${RSS_LIMIT / MB} MB)`,
      ok: first.peakRss < RSS_LIMIT,
    },
    {
      what: `second run: ${second.archivesFetched} archives fetched again, ${second.upstream.total} upstream requests (nothing missing: 0 fetched)`,
      ok: second.archivesFetched === 0 && second.archivesHeld === made.archives,
    },
    {
      what: `second run: peak RSS ${(second.peakRss / MB).toFixed(1)} MB (target < ${RSS_LIMIT / MB} MB)`,
      ok: second.peakRss < RSS_LIMIT,
    },
  ];
  if (first.upstream.missing + second.upstream.missing > 0)
    targets.push({ what: `the upstream answered ${first.upstream.missing + second.upstream.missing} request(s) 404`, ok: false });
  return {
    name: 'mirror',
    table: rows,
    targets,
    notes: [
      `${CRATES} crates, ${made.archives} .crate archives (a Pareto few versions per crate, sizes Pareto from 4 KB, ${(made.archiveBytes / MB).toFixed(1)} MB in all; index files ${(made.indexBytes / MB).toFixed(1)} MB), no dependencies, from a local static fake crates.io into a Cargo proxy (ttl 1d).`,
      `\`larder mirror crates NAME… --data DIR\` (crates named on the command line; ${first.processes === 1 ? 'one process' : `${first.processes} processes, ~1 MB of names each`}), default --concurrency and [outbound] concurrency; wall time from spawn to exit (process start and registry open included), "mirror s" as the command reports it.`,
      'files/s = index files / wall s; MB/s = archive and index bytes fetched / wall s (MB = 10^6 bytes); peak RSS = VmHWM of the larder mirror process, sampled every 50 ms.',
    ],
  };
}
