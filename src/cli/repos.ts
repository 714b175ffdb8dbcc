import type { Command } from 'commander';
import { listRepoRows } from '../registry/repos.js';
import { printTable, withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/** `larder repo list`. */
export function repoCommands(program: Command): void {
  const repo = program.command('repo').description('repositories (configured in larder.toml)');
  withStorageOptions(repo.command('list').description('list repositories')).action(async (flags: StorageFlags) => {
    await withRegistry(flags, async (r) => {
      const rows = await listRepoRows(r.db);
      printTable([
        ['NAME', 'FORMAT', 'KIND', 'VISIBILITY', 'CONFIGURED'],
        ...rows.map((row) => [row.name, row.format, row.kind, row.visibility, r.repos.has(row.name) ? 'yes' : 'no (data kept)']),
      ]);
    });
  });
}
