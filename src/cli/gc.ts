import type { Command } from 'commander';
import { LarderError } from '../core/errors.js';
import { parseDuration } from '../core/units.js';
import { collectGarbage } from '../registry/gc.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/** `--grace`: a duration ("10m", "1h30m") or 0. */
function parseGrace(text: string): number {
  if (/^\s*0+\s*$/.test(text)) return 0;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new LarderError('CONFIG_INVALID', `--grace: ${(err as Error).message}`);
  }
}

/** `larder gc`: `--grace` lets an operator collect right after a crash instead of an hour later. */
export function gcCommand(program: Command): void {
  withStorageOptions(
    program
      .command('gc')
      .description('delete blobs nothing references (older than --grace) and temporary files of processes that are gone'),
  )
    .option('--dry-run', 'only report what would be deleted')
    .option(
      '--grace <duration>',
      'keep unreferenced blobs younger than this; "0" only while nothing publishes, e.g. right after a crash',
      '1h',
    )
    .action(async (flags: StorageFlags & { dryRun?: boolean; grace: string }) => {
      const graceMs = parseGrace(flags.grace);
      await withRegistry(flags, async (registry) => {
        const r = await collectGarbage(registry, { dryRun: flags.dryRun, graceMs });
        const verb = flags.dryRun ? 'would remove' : 'removed';
        process.stdout.write(`${verb} ${r.removed.length} unreferenced blob(s) and ${r.tmpRemoved} temporary file(s); kept ${r.kept}\n`);
        for (const sha of r.removed) process.stdout.write(`  ${sha}\n`);
      });
    });
}
