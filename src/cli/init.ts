import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { initConfigText } from '../core/config.js';

/** `larder init`: writes a commented larder.toml. */
export function initCommand(program: Command): void {
  program
    .command('init [file]')
    .description('write a commented larder.toml with the defaults')
    .option('-f, --force', 'overwrite an existing file')
    .action((file: string | undefined, flags: { force?: boolean }) => {
      const target = path.resolve(file ?? 'larder.toml');
      if (fs.existsSync(target) && !flags.force) throw new Error(`${target} already exists; pass --force to overwrite it`);
      fs.writeFileSync(target, initConfigText());
      process.stdout.write(`wrote ${target}\nedit it, then run: larder serve\n`);
    });
}
