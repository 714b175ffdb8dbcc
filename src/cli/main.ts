import { LarderError } from '../core/errors.js';

/**
 * Runs the CLI; errors are printed as one line (the config errors as several) and exit 1. `larder serve` with only
 * `--option value` pairs, how servers are started, runs without loading commander (cold start, issue 14).
 */
export async function main(argv: string[]): Promise<void> {
  try {
    if (argv[2] === 'serve') {
      const serve = await import('./serve.js');
      const flags = serve.quickServeFlags(argv.slice(3));
      if (flags) return await serve.serve(flags);
    }
    await (await import('./program.js')).runProgram(argv);
  } catch (err) {
    const message = err instanceof LarderError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`larder: ${message}\n`);
    process.exit(1);
  }
}
