import type { Command } from 'commander';
import { LarderError } from '../core/errors.js';
import { syncStaticOrigin } from '../registry/static-origin/sync.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';
import { progressBar } from './progress.js';

/** `larder static-origin sync REPO`: rebuilds a repo's static origin from the database (after an outage of the target, or a new one). */
export function staticOriginCommands(program: Command): void {
  const group = program.command('static-origin').description("a repository's index documents as files for nginx or a CDN (static_origin)");
  withStorageOptions(
    group
      .command('sync')
      .argument('<repo>', 'a repository with static_origin set in larder.toml')
      .description('write every index document that differs, delete files no document is served at, and print the counts'),
  ).action(async (name: string, flags: StorageFlags) => {
    await withRegistry(flags, async (registry) => {
      const repo = registry.repos.get(name);
      if (!repo) throw new LarderError('REPO_NOT_FOUND', `no repository named "${name}" in the configuration`);
      const origin = registry.staticOrigins?.of(repo.id);
      if (!origin) throw new LarderError('CONFIG_INVALID', `repository "${name}" has no static_origin (set it in its [[repos]] entry)`);
      const bar = progressBar(`${name} → ${origin.target.label} {bar} {value}/{total} documents`);
      try {
        const r = await syncStaticOrigin(registry.db, origin, (done, total) => bar.update(done, total));
        bar.stop();
        process.stdout.write(`${origin.target.label}: wrote ${r.written} file(s), ${r.unchanged} unchanged, deleted ${r.deleted}\n`);
      } finally {
        bar.stop();
      }
    });
  });
}
