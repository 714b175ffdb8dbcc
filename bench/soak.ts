import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchOptions } from './lib/args.js';
import { checkIndex, prepareCrates, type CrateVersion } from './lib/crates.js';
import { request } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, ROOT, startLarder } from './lib/larder.js';
import { failures, runLoad } from './lib/load.js';
import type { BenchReport } from './lib/results.js';
import { sampleRss, type RssSampler } from './lib/rss.js';
import type { OpKind, SoakDone, SoakInterval, SoakJob } from './lib/soakgen.js';
import { linearSlope } from './lib/stats.js';

const MB = 1e6;
const SEED_NAMES = 200;
const SEED_VERSIONS = 2;
const PUBLISH_NAMES = 1000;
/** Read-heavy, as registries are; publishes are still tens per second at half the maximum. */
const MIX: Record<OpKind, number> = { index: 0.78, download: 0.2, publish: 0.02 };
const MAX_CONCURRENCY = 32;
const CONNECTIONS = 64;
const DOWNLOAD_CHECKS = 300;
/** RSS may grow by the index documents the cache holds (new lines); beyond that, at most this. */
const SLOPE_LIMIT_MB_PER_MIN = 1;

const SOAKGEN = path.join(ROOT, 'bench/lib/soakgen.ts');

/** Runs bench/lib/soakgen.ts as its own process; `onInterval` gets each interval line as it arrives. */
function runSoakgen(job: SoakJob, dir: string, onInterval: (i: SoakInterval) => void): Promise<SoakDone> {
  const file = path.join(dir, `soak-job-${process.hrtime.bigint()}.json`);
  fs.writeFileSync(file, JSON.stringify(job));
  const child = spawn(process.execPath, ['--import', 'tsx', SOAKGEN, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let rest = '';
  let stderr = '';
  let done: SoakDone | null = null;
  child.stderr.on('data', (c) => (stderr += c));
  child.stdout.on('data', (c: Buffer) => {
    const lines = (rest + c.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const msg = JSON.parse(line) as SoakInterval | SoakDone;
      if (msg.kind === 'interval') onInterval(msg);
      else done = msg;
    }
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      fs.rmSync(file, { force: true });
      if (code === 0 && done) resolve(done);
      else reject(new Error(`soak load generator failed (${code}): ${stderr}`));
    });
  });
}

const readAcks = (file: string): CrateVersion[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as CrateVersion)
    : [];

/** The RSS sample nearest before `t`. */
function rssAt(rss: RssSampler, t: number): number {
  let last = rss.samples[0]?.bytes ?? NaN;
  for (const s of rss.samples) if (s.t <= t) last = s.bytes;
  return last;
}

/**
 * soak: Cargo index reads, downloads and publishes mixed, at half the measured maximum (or `--rate`)
 * for `--duration` (30 min by default): RSS, errors and latency per minute; RSS slope; every publish verified.
 */
export async function soak(dir: string, options: BenchOptions): Promise<BenchReport> {
  const loadBefore = os.loadavg()[0];
  const duration = options.durationMs;
  const data = path.join(dir, 'larder');
  fs.mkdirSync(data);
  const larder = await startLarder({ data, tls: false });
  const auth = { authorization: BENCH_ADMIN_TOKEN };
  const acked: CrateVersion[] = [];
  const minutes: Array<{ i: SoakInterval; rssEnd: number; rssMax: number }> = [];
  let rate: number;
  let measured: SoakDone | null = null;
  let done: SoakDone;
  let soakFrom = 0;
  let soakTo = 0;
  let rss: RssSampler | null = null;
  try {
    process.stderr.write(`soak: publishing ${SEED_NAMES * SEED_VERSIONS} seed crates…\n`);
    const seed = await prepareCrates(path.join(dir, 'seed'), 'soak-seed', SEED_NAMES, SEED_NAMES * SEED_VERSIONS);
    const seeded = await runLoad(
      {
        method: 'PUT',
        requests: seed.map((c) => ({ url: `${larder.url}/cargo/api/v1/crates/new`, bodyFile: c.frameFile })),
        headers: auth,
        concurrency: 8,
      },
      dir,
    );
    if (failures(seeded, (s) => s === 200)) throw new Error(`seed publishes failed: ${seeded.samples.join('\n')}`);
    acked.push(...seed.map(({ name, vers, cksum }) => ({ name, vers, cksum })));

    const job = (mode: SoakJob['mode'], prefix: string, ms: number, r: number, ackFile: string): SoakJob => ({
      url: larder.url,
      token: BENCH_ADMIN_TOKEN,
      mode,
      concurrency: mode === 'max' ? MAX_CONCURRENCY : CONNECTIONS,
      rate: r,
      durationMs: ms,
      reportEveryMs: 60_000,
      mix: MIX,
      pool: acked,
      prefix,
      names: PUBLISH_NAMES,
      ackFile,
    });
    if (options.rate !== null) rate = options.rate;
    else {
      const ms = Math.min(20_000, Math.max(5000, duration / 6));
      process.stderr.write(`soak: measuring the maximum for ${ms / 1000} s…\n`);
      const ackFile = path.join(dir, 'acks-max.jsonl');
      measured = await runSoakgen(job('max', 'soak-max', ms, 0, ackFile), dir, () => {});
      acked.push(...readAcks(ackFile));
      rate = Math.max(1, Math.round((measured.ops * 1000) / measured.elapsedMs / 2));
    }
    process.stderr.write(`soak: ${rate} operations/s for ${(duration / 60_000).toFixed(1)} min…\n`);
    const ackFile = path.join(dir, 'acks-soak.jsonl');
    rss = sampleRss(() => larder.rss(), 1000);
    soakFrom = Date.now();
    let prevT = soakFrom;
    done = await runSoakgen(job('rate', 'soak', duration, rate, ackFile), dir, (i) => {
      minutes.push({ i, rssEnd: rssAt(rss!, i.t), rssMax: rss!.maxBetween(prevT, i.t) });
      prevT = i.t;
      process.stderr.write(
        `soak: minute ${minutes.length}: ${i.ops} ops, ${i.errors} errors, RSS ${(rssAt(rss!, i.t) / MB).toFixed(1)} MB\n`,
      );
    });
    soakTo = Date.now();
    rss.stop();
    // The load generator's own start, not its process's startup, begins the soak.
    if (minutes.length) soakFrom = minutes[0].i.t - minutes[0].i.ms;
    acked.push(...readAcks(ackFile));
  } catch (err) {
    rss?.stop();
    await larder.stop();
    throw err;
  }

  // Every acknowledged publish: its line in the index with its checksum; a sample downloaded and hashed.
  process.stderr.write(`soak: verifying ${acked.length} publishes…\n`);
  let check: Awaited<ReturnType<typeof checkIndex>>;
  const badDownloads: string[] = [];
  try {
    check = await checkIndex(larder.url, acked);
    for (let i = 0; i < Math.min(DOWNLOAD_CHECKS, acked.length); i++) {
      const v = acked[Math.floor((i * acked.length) / Math.min(DOWNLOAD_CHECKS, acked.length))];
      const res = await request(`${larder.url}/cargo/api/v1/crates/${v.name}/${v.vers}/download`);
      if (res.status !== 200 || createHash('sha256').update(res.body).digest('hex') !== v.cksum)
        badDownloads.push(`${v.name}@${v.vers} (${res.status})`);
    }
  } finally {
    await larder.stop();
  }

  const soakAcks = acked.length - SEED_NAMES * SEED_VERSIONS - (measured?.publishes ?? 0);
  const mins = (soakTo - soakFrom) / 60_000;
  // Linear regression of RSS (MB) on time (min) over the second half of the soak.
  const half = rss!.samples.filter((s) => s.t >= soakFrom + (soakTo - soakFrom) / 2 && s.t <= soakTo);
  const slope = linearSlope(
    half.map((s) => (s.t - soakFrom) / 60_000),
    half.map((s) => s.bytes / MB),
  );
  const lineBytes = check.indexLines ? check.indexBytes / check.indexLines : 0;
  const indexGrowth = (soakAcks * lineBytes) / MB / mins;
  const flat = slope <= SLOPE_LIMIT_MB_PER_MIN + indexGrowth;
  const totalErrors = done!.errors;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');

  const table: string[][] = [
    [
      'minute',
      'ops/s',
      'index p50/p99 ms',
      'download p50/p99 ms',
      'publish p50/p99 ms',
      'publishes',
      'errors',
      'shed',
      'RSS MB',
      'RSS max MB',
    ],
  ];
  minutes.forEach(({ i, rssEnd, rssMax }, n) => {
    const c = i.classes;
    table.push([
      String(n + 1),
      (i.ops / (i.ms / 1000)).toFixed(0),
      `${f(c.index.p50)} / ${f(c.index.p99)}`,
      `${f(c.download.p50)} / ${f(c.download.p99)}`,
      `${f(c.publish.p50)} / ${f(c.publish.p99)}`,
      String(c.publish.n),
      String(i.errors),
      String(i.shed),
      f(rssEnd / MB),
      f(rssMax / MB),
    ]);
  });
  const c = done!.classes;
  table.push([
    'all',
    ((done!.ops * 1000) / done!.elapsedMs).toFixed(0),
    `${f(c.index.p50)} / ${f(c.index.p99)}`,
    `${f(c.download.p50)} / ${f(c.download.p99)}`,
    `${f(c.publish.p50)} / ${f(c.publish.p99)}`,
    String(done!.publishes),
    String(totalErrors),
    String(done!.shed),
    '',
    f(rss!.maxBetween() / MB),
  ]);

  const samples = minutes.flatMap((m) => m.i.samples).slice(0, 5);
  return {
    name: `soak (${(duration / 60_000).toFixed(0)} min)`,
    table,
    targets: [
      {
        what: `errors: ${totalErrors} of ${done!.ops} operations${done!.shed ? `, ${done!.shed} more not sent (backlog over 5 s)` : ''} (target 0)`,
        ok: totalErrors === 0 && done!.shed === 0,
      },
      {
        what: `RSS slope over the second half ${slope.toFixed(2)} MB/min; new index lines ${indexGrowth.toFixed(2)} MB/min (target flat: ≤ ${SLOPE_LIMIT_MB_PER_MIN} MB/min beyond the index growth)`,
        ok: flat,
      },
      {
        what: `acknowledged publishes verified: ${acked.length - check.missing.length} of ${acked.length} in the index with their checksum${check.missing.length ? ` (missing e.g. ${check.missing.slice(0, 3).join(', ')})` : ''}; ${Math.min(DOWNLOAD_CHECKS, acked.length) - badDownloads.length} of ${Math.min(DOWNLOAD_CHECKS, acked.length)} sampled downloads matched`,
        ok: check.missing.length === 0 && badDownloads.length === 0,
      },
    ],
    notes: [
      `Rate ${rate} operations/s: ${options.rate !== null ? '--rate' : `half the ${((measured!.ops * 1000) / measured!.elapsedMs).toFixed(0)}/s measured in ${(measured!.elapsedMs / 1000).toFixed(0)} s with ${MAX_CONCURRENCY} in flight`}; mix ${MIX.index * 100} % sparse-index reads, ${MIX.download * 100} % downloads (hashed), ${MIX.publish * 100} % publishes of new versions (${PUBLISH_NAMES} names) with the admin token; reads pick uniformly among published versions, new ones included.`,
      `Larder on SQLite, plain HTTP/1.1, one process, request log on; open-loop load from a separate Node process over ${CONNECTIONS} keep-alive connections, latency from when each operation was due. Seeded with ${SEED_NAMES * SEED_VERSIONS} versions of ${SEED_NAMES} crates. RSS from /proc every second; MB = 10^6 bytes.`,
      `Final index: ${(check.indexBytes / MB).toFixed(1)} MB in ${check.indexLines} lines; the index-document cache (256 MB) may hold all of it, so RSS grows with it.`,
      `1-minute load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after.`,
      ...samples.map((s) => `error: ${s}`),
      ...badDownloads.slice(0, 3).map((s) => `bad download: ${s}`),
    ],
  };
}
