import type { Command } from 'commander';
import { collectGarbage } from '../registry/gc.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/** `larder gc`. */
export function gcCommand(program: Command): void {
  withStorageOptions(program.command('gc').description('delete blobs nothing references (older than an hour) and stale temporary files'))
    .option('--dry-run', 'only report what would be deleted')
    .action(async (flags: StorageFlags & { dryRun?: boolean }) => {
      await withRegistry(flags, async (registry) => {
        const r = await collectGarbage(registry, { dryRun: flags.dryRun });
        const verb = flags.dryRun ? 'would remove' : 'removed';
        process.stdout.write(`${verb} ${r.removed.length} unreferenced blob(s) and ${r.tmpRemoved} temporary file(s); kept ${r.kept}\n`);
        for (const sha of r.removed) process.stdout.write(`  ${sha}\n`);
      });
    });
}
