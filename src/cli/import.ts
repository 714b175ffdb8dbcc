import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { importBazelTree } from '../formats/bazel/import.js';
import { importJuliaRegistry } from '../formats/julia/import.js';
import type { Registry } from '../registry/registry.js';
import type { Repo } from '../registry/repos.js';
import { withRegistry, withStorageOptions, type StorageFlags } from './context.js';
import { progressBar } from './progress.js';

/** The hosted repo of a format to import into: the one named, or the only one configured. */
function targetRepo(registry: Registry, format: string, name: string | undefined): Repo {
  const hosted = [...registry.repos.values()].filter((r) => r.format === format && r.kind === 'hosted');
  const repo = name ? registry.repos.get(name) : hosted.length === 1 ? hosted[0] : undefined;
  if (!repo) {
    throw new Error(
      name
        ? `no repository "${name}"`
        : `${hosted.length} hosted ${format} repositories are configured; name one with --repo (${hosted.map((r) => r.name).join(', ') || 'none'})`,
    );
  }
  if (repo.format !== format || repo.kind !== 'hosted')
    throw new Error(`repository "${repo.name}" is a ${repo.format} ${repo.kind} repository, not a hosted ${format} one`);
  return repo;
}

/** A local directory as is; a git URL shallow-cloned into a temporary directory first. */
async function checkout(source: string): Promise<{ dir: string; cleanup(): void }> {
  if (fs.existsSync(source)) return { dir: path.resolve(source), cleanup: () => {} };
  if (!/^(https?|git|ssh|file):\/\/|^[\w.-]+@[\w.-]+:/.test(source)) throw new Error(`${source} is neither a directory nor a git URL`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-import-'));
  await promisify(execFile)('git', ['clone', '--quiet', '--depth', '1', source, tmp]);
  return { dir: tmp, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

type Importer = (registry: Registry, repo: Repo, dir: string, progress: (done: number, total: number) => void) => Promise<string>;

/** One `larder import <format> <source>` command: check out the source, import with a progress bar, print the summary. */
function importCommand(parent: Command, format: string, description: string, run: Importer): void {
  withStorageOptions(parent.command(`${format} <source>`).description(description))
    .option('--repo <name>', `the hosted ${format} repository (default: the only one)`)
    .action(async (source: string, flags: StorageFlags & { repo?: string }) => {
      const { dir, cleanup } = await checkout(source);
      try {
        await withRegistry(flags, async (registry) => {
          const repo = targetRepo(registry, format, flags.repo);
          const bar = progressBar('importing {bar} {value}/{total} files');
          const summary = await run(registry, repo, dir, bar.update);
          bar.stop();
          process.stdout.write(`${summary}\n`);
        });
      } finally {
        cleanup();
      }
    });
}

/** `larder import bazel|julia <dir|git URL>`. */
export function importCommands(program: Command): void {
  const imp = program.command('import').description('load an existing registry into a hosted repository');
  importCommand(
    imp,
    'bazel',
    'import a Bazel index registry (a directory or a git URL), byte for byte; again imports only what changed',
    async (registry, repo, dir, progress) => {
      const s = await importBazelTree(registry, repo, dir, progress);
      return `imported into ${repo.name}: ${s.added} new, ${s.changed} changed, ${s.unchanged} unchanged files; ${s.versions} module versions; ${s.ignored} non-registry entries ignored`;
    },
  );
  importCommand(
    imp,
    'julia',
    'import a Julia registry (a directory or a git URL): its current tree, served by the Pkg server protocol',
    async (registry, repo, dir, progress) => {
      const s = await importJuliaRegistry(registry, repo, dir, progress);
      return s.changed
        ? `imported registry ${s.name} (${s.uuid}) into ${repo.name}: ${s.files} files, tree ${s.treeHash}`
        : `registry ${s.name} in ${repo.name} is already at tree ${s.treeHash}`;
    },
  );
}
