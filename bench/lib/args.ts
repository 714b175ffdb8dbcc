import { parseArgs } from 'node:util';

/** Command-line options of `npm run bench -- <names> [options]`; each benchmark reads the ones it knows. */
export interface BenchOptions {
  /** soak: how long the mixed load runs, in milliseconds (`--duration 30m`). */
  durationMs: number;
  /** soak: operations per second to hold (`--rate`); null = half the measured maximum. */
  rate: number | null;
  /** abuse: a reduced scale that only proves the script works (`--quick`). */
  quick: boolean;
  /** Do not append to bench/RESULTS.md (`--no-record`): for smoke runs on a busy machine. */
  record: boolean;
  /** abuse: the HTTP/2 idle timeout to expect, in milliseconds (`--idle-timeout 60s`); null = read larder.toml's default. */
  idleTimeoutMs: number | null;
  /** abuse: how long to wait for idle sessions when no timeout is configured (`--idle-wait 3m`). */
  idleWaitMs: number | null;
}

/** Milliseconds from "90", "90s", "500ms", "30m", "1h" or "1.5h" (a bare number is seconds). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?$/i.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 90s, 30m, 1h)`);
  const unit = (m[2] ?? 's').toLowerCase();
  const scale = unit === 'ms' ? 1 : unit === 'm' || unit === 'min' ? 60_000 : unit === 'h' ? 3_600_000 : 1000;
  return Math.round(Number(m[1]) * scale);
}

/** Splits argv into benchmark names and options; unknown options are an error, not a benchmark name. */
export function parseBenchArgs(argv: string[]): { names: string[]; options: BenchOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-record': { type: 'boolean', default: false },
      'idle-timeout': { type: 'string' },
      'idle-wait': { type: 'string' },
    },
  });
  const rate = values.rate === undefined ? null : Number(values.rate);
  if (rate !== null && !(rate > 0)) throw new Error(`--rate must be a positive number of operations per second, got ${values.rate}`);
  return {
    names: positionals,
    options: {
      durationMs: parseDuration(values.duration ?? '30m'),
      rate,
      quick: values.quick ?? false,
      record: !values['no-record'],
      idleTimeoutMs: values['idle-timeout'] === undefined ? null : parseDuration(values['idle-timeout']),
      idleWaitMs: values['idle-wait'] === undefined ? null : parseDuration(values['idle-wait']),
    },
  };
}
