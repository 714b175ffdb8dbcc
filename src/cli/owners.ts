import type { Command } from 'commander';
import { fail } from '../core/errors.js';
import { changeOwners, listOwners, type PackageRef } from '../registry/owners.js';
import type { Registry } from '../registry/registry.js';
import { printTable, withRegistry, withStorageOptions, type StorageFlags } from './context.js';

/** The package a command names, as its format keys ownership; fails with what exists instead. */
async function packageRef(r: Registry, repoName: string, pkg: string): Promise<PackageRef> {
  const repo = r.repos.get(repoName);
  if (!repo) fail('REPO_NOT_FOUND', `there is no repository ${repoName}; \`larder repo list\` shows them`);
  const plugin = r.formats.get(repo.format);
  if (!plugin?.packageRef) fail('NOT_FOUND', `${repo.format} repositories have no package owners`);
  const ref = await plugin.packageRef(r, repo, pkg);
  if (!ref) fail('PACKAGE_NOT_FOUND', `repository ${repoName} has no package ${pkg}`);
  return ref;
}

/**
 * `larder owner list|add|remove REPO PACKAGE [LOGIN…]`: the server operator's view of package
 * owners, for every format (acts as an admin; changes are audited as made from the CLI).
 */
export function ownerCommands(program: Command): void {
  const owner = program.command('owner').description('package owners (who may publish, yank and change owners), for every format');
  withStorageOptions(owner.command('list <repo> <package>').description('list the owners of a package')).action(
    async (repo: string, pkg: string, flags: StorageFlags) => {
      await withRegistry(flags, async (r) => {
        const ref = await packageRef(r, repo, pkg);
        const owners = await listOwners(r.db, ref);
        if (owners.length === 0) {
          process.stdout.write(
            `${ref.label} has no owners; only admins may change it (add one with \`larder owner add ${repo} ${pkg} <login>\`)\n`,
          );
          return;
        }
        printTable([['LOGIN', 'NAME'], ...owners.map((u) => [u.login, u.name ?? ''])]);
      });
    },
  );
  for (const [verb, add] of [
    ['add', true],
    ['remove', false],
  ] as const) {
    withStorageOptions(
      owner
        .command(`${verb} <repo> <package> <logins...>`)
        .description(add ? 'make users owners of a package' : 'remove owners of a package (the last one stays)'),
    ).action(async (repo: string, pkg: string, logins: string[], flags: StorageFlags) => {
      await withRegistry(flags, async (r) => {
        const ref = await packageRef(r, repo, pkg);
        const after = await changeOwners(r, null, ref, logins, add);
        process.stdout.write(
          `${add ? 'added' : 'removed'} ${logins.join(', ')}; owners of ${ref.label}: ${after.map((u) => u.login).join(', ')}\n`,
        );
      });
    });
  }
}
