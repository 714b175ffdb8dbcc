import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { abuse } from './abuse.js';
import { parseBenchArgs, type BenchOptions } from './lib/args.js';
import { bazelImport } from './bazel-import.js';
import { coldStartBench } from './cold-start.js';
import { download } from './download.js';
import { fastPath } from './fast-path.js';
import { indexMemory } from './index-memory.js';
import { indexRead } from './index-read.js';
import { mirrorBench } from './mirror.js';
import { proxyRead } from './proxy-read.js';
import { publish } from './publish.js';
import { readPaths } from './read-paths.js';
import { resolveBench } from './resolve.js';
import { scaleOut } from './scale-out.js';
import { soak } from './soak.js';
import { staticOrigin } from './static-origin.js';
import { webBench } from './web.js';
import { appendResults, machineLine, textTable, type BenchReport } from './lib/results.js';

type Bench = (dir: string, options: BenchOptions) => Promise<BenchReport>;

/**
 * Every benchmark, by the name `npm run bench -- <name>` takes, with the peers it reports versions of.
 * `named`: long runs (abuse, soak) that run only when named, not in a bare `npm run bench`.
 */
const BENCHES: Record<string, { run: Bench; peers: string[]; named?: boolean }> = {
  'index-read': { run: indexRead, peers: ['nginx', 'h2load'] },
  'fast-path': { run: fastPath, peers: [] },
  'index-memory': { run: indexMemory, peers: [] },
  publish: { run: publish, peers: ['nginx'] },
  download: { run: download, peers: ['nginx'] },
  resolve: { run: resolveBench, peers: ['nginx', 'cargo'] },
  'cold-start': { run: coldStartBench, peers: ['nginx'] },
  'proxy-read': { run: proxyRead, peers: ['h2load'] },
  'read-paths': { run: readPaths, peers: ['nginx', 'h2load', 'git'] },
  mirror: { run: mirrorBench, peers: [] },
  'bazel-import': { run: bazelImport, peers: [] },
  web: { run: webBench, peers: ['h2load'] },
  'scale-out': { run: scaleOut, peers: ['haproxy'] },
  'static-origin': { run: staticOrigin, peers: ['nginx', 'h2load'] },
  abuse: { run: abuse, peers: [], named: true },
  soak: { run: soak, peers: [], named: true },
};

/**
 * As root, the benchmark and everything it starts (servers, peers, load generators inherit it) run at the highest
 * priority, so other work on the machine (a build, a test run) takes far less from a run; BENCH_NICE=0 turns it off.
 */
function raisePriority(): string {
  if (process.env.BENCH_NICE === '0' || process.getuid?.() !== 0) return `nice ${os.getPriority()}`;
  os.setPriority(-20);
  return 'nice -20';
}

async function main(): Promise<void> {
  const { names, options } = parseBenchArgs(process.argv.slice(2));
  const priority = raisePriority();
  const selected = names.length ? names : Object.keys(BENCHES).filter((n) => !BENCHES[n].named);
  const unknown = selected.filter((n) => !BENCHES[n]);
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; available: ${Object.keys(BENCHES).join(', ')}`);
  let failed = 0;
  for (const name of selected) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `larder-bench-${name}-`));
    // nginx workers run as an unprivileged user and must read the files it serves.
    fs.chmodSync(dir, 0o755);
    try {
      process.stderr.write(`\n== ${name} ==\n`);
      const report = await BENCHES[name].run(dir, options);
      process.stdout.write(
        `\n${name}\n${textTable(report.table)}\n${report.targets.map((t) => `${t.ok ? 'ok  ' : 'MISS'} ${t.what}`).join('\n')}\n${(report.notes ?? []).map((n) => `- ${n}`).join('\n')}\n`,
      );
      if (options.record) appendResults(report, `${machineLine(BENCHES[name].peers)}; ${priority}`);
      else process.stderr.write('(--no-record: not appended to bench/RESULTS.md)\n');
      failed += report.targets.filter((t) => !t.ok).length;
    } finally {
      // BENCH_KEEP=1 keeps the run's directory (servers' logs, data) for a look afterwards.
      if (process.env.BENCH_KEEP === '1') process.stderr.write(`kept ${dir}\n`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (failed) process.stderr.write(`\n${failed} target(s) missed${options.record ? '; see bench/RESULTS.md' : ''}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
