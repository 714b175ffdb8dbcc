import type { Command } from 'commander';
import { loadConfig, type ConfigOverrides, type LarderConfig } from '../core/config.js';
import { bazelFormat } from '../formats/bazel/index.js';
import { briocheFormat } from '../formats/brioche/index.js';
import { cargoFormat } from '../formats/cargo/index.js';
import { juliaFormat } from '../formats/julia/index.js';
import { moonbitFormat } from '../formats/moonbit/index.js';
import type { FormatPlugin } from '../http/format-plugin.js';
import { openRegistry, type Registry } from '../registry/registry.js';

/** Every implemented format, in the order repos are listed. */
export const FORMATS: FormatPlugin[] = [cargoFormat, bazelFormat, juliaFormat, moonbitFormat, briocheFormat];

/** Options every command that touches storage accepts: commander's flags and description. */
export const STORAGE_OPTIONS: ReadonlyArray<readonly [flags: string, description: string]> = [
  ['-c, --config <file>', 'larder.toml to read (default: ./larder.toml if present)'],
  ['--data <dir>', 'data directory (default ./larder-data)'],
  ['--database <url>', '"sqlite", "sqlite:/path.db" or "postgres://user:pass@host/db"'],
];

/** Adds STORAGE_OPTIONS to a command. */
export function withStorageOptions(cmd: Command): Command {
  for (const [flags, description] of STORAGE_OPTIONS) cmd.option(flags, description);
  return cmd;
}

export interface StorageFlags {
  config?: string;
  data?: string;
  database?: string;
}

/** Loads the config with the command's flags on top. */
export function configFrom(flags: StorageFlags & ConfigOverrides): LarderConfig {
  const { config, ...overrides } = flags;
  return loadConfig({ file: config, cwd: process.cwd(), env: process.env, overrides });
}

/** Runs `fn` with an open registry and always closes it. */
export async function withRegistry<T>(flags: StorageFlags, fn: (registry: Registry) => Promise<T>): Promise<T> {
  const registry = await openRegistry(configFrom(flags), FORMATS);
  try {
    return await fn(registry);
  } finally {
    await registry.close();
  }
}

/** Writes aligned columns, for the `list` commands. */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n');
}
