import type { Command } from 'commander';
import { printTable, withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/** `larder user add|list`. */
export function userCommands(program: Command): void {
  const user = program.command('user').description('manage users (owners of packages, holders of tokens)');
  withStorageOptions(user.command('add <login>').description('create a user'))
    .option('--name <name>', 'display name')
    .option('--admin', 'make the user an administrator')
    .action(async (login: string, flags: StorageFlags & { name?: string; admin?: boolean }) => {
      await withRegistry(flags, async (r) => {
        const row = await r.auth.createUser(login, { name: flags.name ?? null, admin: flags.admin });
        process.stdout.write(`created user ${row.login} (id ${row.id})\n`);
      });
    });
  withStorageOptions(user.command('list').description('list users')).action(async (flags: StorageFlags) => {
    await withRegistry(flags, async (r) => {
      const users = await r.auth.listUsers();
      printTable([
        ['ID', 'LOGIN', 'NAME', 'ADMIN', 'CREATED'],
        ...users.map((u) => [String(u.id), u.login, u.name ?? '', u.is_admin ? 'yes' : '', new Date(u.created_at).toISOString()]),
      ]);
    });
  });
}
