import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ROOT } from './lib/larder.js';
import type { BenchReport } from './lib/results.js';
import { sampleRss } from './lib/rss.js';
import { peakRssOf } from './lib/procs.js';

/** Where a BCR clone usually is on this machine (a bare git directory); BENCH_BCR names another (a checkout or a bare git dir). */
const DEFAULT_BCR = '/work/.mirror/bazelbuild+bazel-central-registry/repo';
const MB = 1e6;
const TARGET_S = 4;

/** What one `larder import bazel` run took and said. */
interface ImportRun {
  wallMs: number;
  peakRss: number;
  added: number;
  changed: number;
  unchanged: number;
  versions: number;
  /** Rows in index_changes and the newest index_docs.updated_at after the run: a run that writes nothing moves neither. */
  changes: number;
  newest: number;
}

/** A registry tree to import: BENCH_BCR or the default clone, exported into `dir` when it is a git directory; null when there is none. */
async function bcrTree(dir: string): Promise<string | null> {
  const source = process.env.BENCH_BCR || DEFAULT_BCR;
  if (!fs.existsSync(source)) return null;
  if (fs.existsSync(path.join(source, 'modules'))) return source;
  if (!fs.existsSync(path.join(source, 'HEAD')))
    throw new Error(`BENCH_BCR=${source} is neither a registry checkout (modules/) nor a git directory`);
  const out = path.join(dir, 'bcr');
  fs.mkdirSync(out);
  process.stderr.write(`exporting ${source} (git archive HEAD)…\n`);
  await new Promise<void>((resolve, reject) => {
    const git = spawn('git', ['--git-dir', source, 'archive', 'HEAD'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const tar = spawn('tar', ['-x', '-C', out], { stdio: ['pipe', 'inherit', 'inherit'] });
    git.stdout.pipe(tar.stdin);
    git.once('error', reject);
    tar.once('error', reject);
    tar.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git archive | tar exited with ${code}`))));
  });
  return out;
}

/** Runs `larder import bazel TREE --data DATA` from this checkout's build, sampling its peak RSS. */
async function runImport(data: string, tree: string, log: string): Promise<ImportRun> {
  const err = fs.openSync(log, 'a');
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/larder.js'), 'import', 'bazel', tree, '--data', data], {
    cwd: data,
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
  const wallMs = performance.now() - started;
  const peakRss = rss.stop();
  fs.closeSync(err);
  if (code !== 0) throw new Error(`larder import bazel exited with ${code}:\n${stdout}\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
  const m = /(\d+) new, (\d+) changed, (\d+) unchanged files; (\d+) module versions/.exec(stdout);
  if (!m) throw new Error(`larder import bazel said something unexpected:\n${stdout}`);
  const db = new Database(path.join(data, 'larder.db'), { readonly: true });
  try {
    const changes = (db.prepare('select count(*) as n from index_changes').get() as { n: number }).n;
    const newest = (db.prepare('select max(updated_at) as t from index_docs').get() as { t: number | null }).t ?? 0;
    return { wallMs, peakRss, added: +m[1], changed: +m[2], unchanged: +m[3], versions: +m[4], changes, newest };
  } finally {
    db.close();
  }
}

/**
 * bazel-import: `larder import bazel` of the whole Bazel Central Registry into a fresh data dir (issue 14: < 4 s for
 * its ~44.6k files), then again with nothing changed (it must write nothing). Skipped, with how to get a clone, when
 * there is no BCR on this machine.
 */
export async function bazelImport(dir: string): Promise<BenchReport> {
  const tree = await bcrTree(dir);
  if (!tree) {
    const how = `no BCR checkout: set BENCH_BCR to a checkout or a bare clone (git clone --bare https://github.com/bazelbuild/bazel-central-registry), or put one at ${DEFAULT_BCR}`;
    process.stderr.write(`bazel-import skipped: ${how}\n`);
    return { name: 'bazel-import', table: [['run'], ['skipped']], targets: [], notes: [`skipped: ${how}`] };
  }
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  const log = path.join(dir, 'import.log');
  process.stderr.write(`importing ${tree}…\n`);
  const first = await runImport(data, tree, log);
  process.stderr.write('importing again (nothing changed)…\n');
  const second = await runImport(data, tree, log);

  const files = first.added + first.changed + first.unchanged;
  const rows: string[][] = [['run', 'wall s', 'files', 'written', 'files/s', 'peak RSS MB', 'module versions']];
  for (const [label, r] of [
    ['first (fresh data dir)', first],
    ['second (nothing changed)', second],
  ] as const) {
    rows.push([
      label,
      (r.wallMs / 1000).toFixed(2),
      String(r.added + r.changed + r.unchanged),
      String(r.added + r.changed),
      (files / (r.wallMs / 1000)).toFixed(0),
      (r.peakRss / MB).toFixed(1),
      String(r.versions),
    ]);
  }
  return {
    name: 'bazel-import',
    table: rows,
    targets: [
      {
        what: `first import: ${(first.wallMs / 1000).toFixed(2)} s for ${files} files (target < ${TARGET_S} s)`,
        ok: first.wallMs < TARGET_S * 1000,
      },
      {
        // A fresh repo starts with a generated bazel_registry.json: the imported one replaces it, or equals it (unchanged).
        what: `first import wrote every file (${first.added} new, ${first.changed} changed, ${first.unchanged} unchanged of ${files})`,
        ok: first.added + first.changed + first.unchanged === files && first.unchanged <= 1,
      },
      {
        what: `second import wrote nothing (${second.added} new, ${second.changed} changed; index_changes ${first.changes} → ${second.changes})`,
        ok: second.added === 0 && second.changed === 0 && second.changes === first.changes && second.newest === first.newest,
      },
    ],
    notes: [
      `\`larder import bazel DIR --data DATA\` (bin/larder.js, default config: one hosted Bazel repo on SQLite) of ${tree === (process.env.BENCH_BCR || DEFAULT_BCR) ? tree : 'a `git archive HEAD` export of ' + (process.env.BENCH_BCR || DEFAULT_BCR)}; wall time from spawn to exit (process start and registry open included).`,
      'files/s = registry files in the tree / wall s; peak RSS = VmHWM of the import process, sampled every 50 ms.',
    ],
  };
}
