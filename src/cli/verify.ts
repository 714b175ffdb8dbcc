import type { Command } from 'commander';
import { verifyRegistry } from '../registry/verify.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';
import { progressBar } from './progress.js';

/**
 * `larder verify`: re-hashes every blob and checks every index document against the database;
 * exits 1 naming each problem, so it can gate a restore or run from cron.
 */
export function verifyCommand(program: Command): void {
  withStorageOptions(
    program
      .command('verify')
      .description('re-hash every blob and check every index document against the database; exits 1 naming what is wrong'),
  ).action(async (flags: StorageFlags) => {
    const problems = await withRegistry(flags, async (registry) => {
      const bar = progressBar('verifying {phase} {bar} {value}/{total}');
      const report = await verifyRegistry(registry, (phase, done, total) => bar.update(done, total, { phase }));
      bar.stop();
      for (const c of report.checked) process.stdout.write(`checked ${c.count} ${c.what}\n`);
      return report.problems;
    });
    if (problems.length === 0) {
      process.stdout.write('ok: no problems found\n');
      return;
    }
    for (const p of problems) process.stderr.write(`problem: ${p}\n`);
    process.stderr.write(`larder verify: ${problems.length} problem(s) found\n`);
    process.exitCode = 1;
  });
}
