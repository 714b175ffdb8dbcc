import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { importBazelTree } from '../formats/bazel/import.js';
import { importJuliaRegistry } from '../formats/julia/import.js';
import { importMoonbit, type MoonbitImportSummary } from '../formats/moonbit/import.js';
import { readImportSource } from '../formats/moonbit/import-source.js';
import { reposSnippet } from '../formats/moonbit/registry-tools.js';
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

/** What `larder import moonbit` prints: what was written, what was kept without a row, what was left out. */
function moonbitSummary(repo: Repo, s: MoonbitImportSummary, describe: string): string {
  const lines = [
    s.committed
      ? `imported ${describe} into ${repo.name}: ${s.added} new, ${s.extended} extended, ${s.unchanged} unchanged modules; ${s.versions} versions (${s.zips} with their zips, ${s.yanked} yanked)`
      : `${repo.name} already holds everything in ${describe}: ${s.unchanged} unchanged modules, nothing written`,
  ];
  if (s.skippedLines)
    lines.push(
      `${s.skippedLines} index lines are kept byte for byte but name no SemVer version or checksum, so they have no downloadable version`,
    );
  if (s.versions > s.zips && s.committed)
    lines.push(
      `${s.versions - s.zips} imported versions have no zip here: their downloads answer 404 until they are published or mirrored`,
    );
  if (s.strayZips) lines.push(`${s.strayZips} zips no index line names were left out`);
  if (s.ignored) lines.push(`${s.ignored} files that are not index files were left out`);
  return lines.join('\n');
}

/** `larder import moonbit <dir|store|git URL> [--branch B]`: an index (git at a branch, a directory) or a moonbit-registry-tools store. */
function importMoonbitCommand(parent: Command): void {
  withStorageOptions(
    parent
      .command('moonbit <source>')
      .description(
        'import a MoonBit index (a git repository or URL at --branch, a directory of user/…/*.index files) or a moonbit-registry-tools store, byte for byte, as one commit',
      ),
  )
    .option('--repo <name>', 'the hosted moonbit repository (default: the only one)')
    .option('--branch <branch>', "the index repository's branch (default: its HEAD)")
    .action(async (source: string, flags: StorageFlags & { repo?: string; branch?: string }) => {
      await withRegistry(flags, async (registry) => {
        const repo = targetRepo(registry, 'moonbit', flags.repo);
        const input = await readImportSource(registry, source, { branch: flags.branch });
        // Drawn only on a terminal and outside CI: logs keep the summary alone.
        const bar = process.stderr.isTTY && !process.env.CI ? progressBar('importing {bar} {value}/{total} files and zips') : null;
        const summary = await importMoonbit(registry, repo, input, bar?.update);
        bar?.stop();
        process.stdout.write(`${moonbitSummary(repo, summary, input.describe)}\n`);
        if (input.tools)
          process.stdout.write(
            `\nTo serve what the store mirrored, add these repositories to larder.toml (Larder does not edit it):\n\n${reposSnippet(repo.name, input.tools)}`,
          );
      });
    });
}

/** `larder import bazel|julia|moonbit <dir|git URL>`. */
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
  importMoonbitCommand(imp);
}
