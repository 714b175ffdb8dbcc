import type { Command } from 'commander';
import { LarderError } from '../core/errors.js';
import { formatSize } from '../core/units.js';
import { DEFAULT_MIRROR_CONCURRENCY, mirror, type MirrorProgress } from '../upstream/mirror.js';
import { mirrorTarget } from '../upstream/mirror-target.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';
import { progressBar } from './progress.js';

interface MirrorFlags extends StorageFlags {
  strict?: boolean;
  full?: boolean;
  failFast?: boolean;
  concurrency: string;
}

/** How often a line is printed when stderr is not a terminal (a log, CI). */
const PLAIN_EVERY_MS = 5_000;

function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new LarderError('CONFIG_INVALID', `--concurrency: a whole number from 1 to 256, not "${text}"`);
  return n;
}

/** `12/40 packages, 30 artifacts (3 fetched, 1.2 MiB), 0 errors`. */
function describe(p: MirrorProgress): string {
  return `${p.packagesDone}/${p.packagesQueued} packages, ${p.artifactsDone}/${p.artifactsQueued} artifacts (${p.artifactsFetched} fetched, ${formatSize(p.bytesFetched)}), ${p.errors} error(s)`;
}

/** Draws progress on stderr: one updating bar on a terminal, a plain line every few seconds otherwise. */
function progressView(): { update(p: MirrorProgress): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = progressBar('mirroring {bar} {value}/{total} packages | {artifacts} artifacts | {bytes} | {errors} error(s)');
    return {
      update: (p) =>
        bar.update(p.packagesDone, Math.max(p.packagesQueued, 1), {
          artifacts: `${p.artifactsDone}/${p.artifactsQueued}`,
          bytes: formatSize(p.bytesFetched),
          errors: String(p.errors),
        }),
      stop: () => bar.stop(),
    };
  }
  let last: MirrorProgress | null = null;
  const timer = setInterval(() => last && process.stderr.write(`mirroring: ${describe(last)}\n`), PLAIN_EVERY_MS);
  timer.unref();
  return {
    update: (p) => (last = p),
    stop: () => clearInterval(timer),
  };
}

/**
 * `larder mirror REPO [PATTERN…]`: fills a proxy repo ahead of need (names, globs, dependencies unless
 * --strict, or --full); lists every error at the end and exits 1 when there was one.
 */
export function mirrorCommand(program: Command): void {
  withStorageOptions(
    program
      .command('mirror')
      .description('fill a proxy repository ahead of need: the packages the patterns name (globs: "serde*") and their dependencies')
      .argument('<repo>', 'a proxy repository (kind = "proxy" in larder.toml)')
      .argument('[patterns...]', 'package names or globs (*, ?, [a-z]; "/" is an ordinary character)'),
  )
    .option('--strict', 'only what the patterns name, not their dependencies')
    .option('--full', 'everything the upstream has (no patterns)')
    .option('--fail-fast', 'stop at the first error')
    .option('--concurrency <n>', 'packages and artifacts fetched at once', String(DEFAULT_MIRROR_CONCURRENCY))
    .action(async (repoName: string, patterns: string[], flags: MirrorFlags) => {
      const concurrency = parseConcurrency(flags.concurrency);
      const report = await withRegistry(flags, async (registry) => {
        const target = mirrorTarget(registry, repoName);
        if (target.offline)
          process.stderr.write(`note: "${repoName}" is offline; mirroring contacts its upstream, serving stays offline\n`);
        const view = progressView();
        try {
          return await mirror(target, {
            patterns,
            strict: flags.strict,
            full: flags.full,
            failFast: flags.failFast,
            concurrency,
            onProgress: (p) => view.update(p),
          });
        } finally {
          view.stop();
        }
      });
      const seconds = (report.elapsedMs / 1000).toFixed(1);
      const held = report.artifactsHeld - report.artifactsFetched;
      process.stdout.write(
        `mirrored ${report.packagesMirrored} package(s) and ${report.artifactsHeld} artifact(s) into "${repoName}" in ${seconds} s: ` +
          `${report.artifactsFetched} artifact(s) fetched (${formatSize(report.bytesFetched)}), ${held} already stored\n`,
      );
      if (report.failures.length === 0) return;
      for (const f of report.failures) process.stderr.write(`error: ${f.subject}: ${f.message}\n`);
      const stopped = report.stopped ? ' (stopped at the first: --fail-fast)' : '';
      process.stderr.write(`larder mirror: ${report.failures.length} error(s)${stopped}\n`);
      process.exitCode = 1;
    });
}
