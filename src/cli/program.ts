import { Command, CommanderError } from 'commander';
import { LARDER_VERSION } from '../core/version.js';

type Register = (program: Command) => void;

/**
 * Every top-level command, in the order `--help` lists them, with the module that defines it (and what it runs): a
 * start loads only the module of the command it runs (cold start, issue 14; `larder serve` never loads `import`).
 */
export const COMMANDS: Array<{ names: string[]; load: () => Promise<Register> }> = [
  { names: ['serve'], load: async () => (await import('./serve.js')).serveCommand },
  { names: ['init'], load: async () => (await import('./init.js')).initCommand },
  { names: ['token'], load: async () => (await import('./tokens.js')).tokenCommands },
  { names: ['user'], load: async () => (await import('./users.js')).userCommands },
  { names: ['repo'], load: async () => (await import('./repos.js')).repoCommands },
  { names: ['import'], load: async () => (await import('./import.js')).importCommands },
  { names: ['gc'], load: async () => (await import('./gc.js')).gcCommand },
  { names: ['verify'], load: async () => (await import('./verify.js')).verifyCommand },
  { names: ['mirror'], load: async () => (await import('./mirror.js')).mirrorCommand },
  { names: ['backup', 'restore'], load: async () => (await import('./backup.js')).backupCommands },
  { names: ['bazel'], load: async () => (await import('./bazel.js')).bazelCommands },
  { names: ['julia'], load: async () => (await import('./julia.js')).juliaCommands },
  { names: ['moonbit'], load: async () => (await import('./moonbit.js')).moonbitCommands },
  { names: ['brioche'], load: async () => (await import('./brioche.js')).briocheCommands },
  { names: ['owner'], load: async () => (await import('./owners.js')).ownerCommands },
  { names: ['static-origin'], load: async () => (await import('./static-origin.js')).staticOriginCommands },
];

/**
 * The `larder` program: with `command`, only the module that defines that top-level command (when it is one; every
 * command otherwise, as `--help`, `help` and an unknown command's suggestions need).
 */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command('larder')
    .description('A self-hosted package registry and mirror for Cargo, Bazel, Julia, MoonBit and Brioche')
    .version(LARDER_VERSION)
    .showHelpAfterError();
  const one = COMMANDS.find((c) => command !== undefined && c.names.includes(command));
  for (const register of await Promise.all((one ? [one] : COMMANDS).map((c) => c.load()))) register(program);
  return program;
}

/** Parses `argv` and runs the command it names; commander's own errors (usage, --help) exit as commander says. */
export async function runProgram(argv: string[]): Promise<void> {
  try {
    // argv[2] is the command unless it is an option (the program's own are --version and --help).
    await (await buildProgram(argv[2])).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    throw err;
  }
}
