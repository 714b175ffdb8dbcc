import { Command, CommanderError } from 'commander';
import { LarderError } from '../core/errors.js';
import { LARDER_VERSION } from '../core/version.js';
import { backupCommands } from './backup.js';
import { bazelCommands } from './bazel.js';
import { briocheCommands } from './brioche.js';
import { gcCommand } from './gc.js';
import { importCommands } from './import.js';
import { juliaCommands } from './julia.js';
import { mirrorCommand } from './mirror.js';
import { moonbitCommands } from './moonbit.js';
import { initCommand } from './init.js';
import { ownerCommands } from './owners.js';
import { repoCommands } from './repos.js';
import { serveCommand } from './serve.js';
import { staticOriginCommands } from './static-origin.js';
import { tokenCommands } from './tokens.js';
import { userCommands } from './users.js';
import { verifyCommand } from './verify.js';

/** The `larder` program. */
export function buildProgram(): Command {
  const program = new Command('larder')
    .description('A self-hosted package registry and mirror for Cargo, Bazel, Julia, MoonBit and Brioche')
    .version(LARDER_VERSION)
    .showHelpAfterError();
  serveCommand(program);
  initCommand(program);
  tokenCommands(program);
  userCommands(program);
  repoCommands(program);
  importCommands(program);
  gcCommand(program);
  verifyCommand(program);
  mirrorCommand(program);
  backupCommands(program);
  bazelCommands(program);
  juliaCommands(program);
  moonbitCommands(program);
  briocheCommands(program);
  ownerCommands(program);
  staticOriginCommands(program);
  return program;
}

/** Runs the CLI; errors are printed as one line (the config errors as several) and exit 1. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    const message = err instanceof LarderError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`larder: ${message}\n`);
    process.exit(1);
  }
}
