import path from 'node:path';
import type { Command } from 'commander';
import { formatSize } from '../core/units.js';
import { backupRegistry, requireSqlite, restoreBlobs, restoreDatabase } from '../registry/backup.js';
import { configFrom, withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/**
 * `larder backup DIR` and `larder restore DIR`: a consistent copy of a running SQLite registry
 * and its blobs, and a restore into a fresh data directory. PostgreSQL setups are told the
 * pg_dump procedure instead of getting half a backup.
 */
export function backupCommands(program: Command): void {
  withStorageOptions(
    program
      .command('backup <dir>')
      .description(
        'back up the SQLite database (online, while the server runs), the blobs it references and the TLS CA into an empty directory',
      ),
  ).action(async (dir: string, flags: StorageFlags) => {
    requireSqlite(configFrom(flags));
    const target = path.resolve(dir);
    const r = await withRegistry(flags, (registry) => backupRegistry(registry, target));
    if (r.missing.length) {
      for (const sha of r.missing) process.stderr.write(`missing blob: ${sha}\n`);
      process.stderr.write(
        `larder backup: ${r.missing.length} referenced blob(s) are missing from the store, so ${target} is incomplete (it has no manifest); run \`larder verify\`\n`,
      );
      process.exitCode = 1;
      return;
    }
    process.stdout.write(
      `backed up the database and ${r.manifest.blobs.count} blob(s) (${formatSize(r.manifest.blobs.bytes)}; ${r.linked} hard-linked, ${r.copied} copied)${r.manifest.tls ? ' and the TLS CA' : ''} into ${target}\n`,
    );
  });

  withStorageOptions(
    program.command('restore <dir>').description('restore a backup into a new, empty data directory (never overwrites)'),
  ).action(async (dir: string, flags: StorageFlags) => {
    const source = path.resolve(dir);
    const config = configFrom(flags);
    await restoreDatabase(config, source);
    const count = await withRegistry(flags, (registry) => restoreBlobs(registry, source));
    process.stdout.write(
      `restored the database and ${count} blob(s) into ${config.data}; check it with \`larder verify --data ${config.data}\`\n`,
    );
  });
}
