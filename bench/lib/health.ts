import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './larder.js';
import { percentile } from './stats.js';

/** One health check: when it was due (Date.now() scale), how long it took, and the status (0 = never answered, -1 = connection error). */
export interface HealthSample {
  t: number;
  ms: number;
  status: number;
}

export interface HealthStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Checks not answered 200. */
  failed: number;
}

const PROBE = path.join(ROOT, 'bench/lib/healthprobe.ts');

/**
 * Starts a separate process that GETs `${url}/-/healthz` every `intervalMs` over its own connections
 * (bench/lib/healthprobe.ts); `stop()` ends it and returns every sample, unanswered ones included.
 */
export function startHealthProbe(
  url: string,
  ca: string | null,
  intervalMs = 50,
): { samples: HealthSample[]; ready(count?: number): Promise<void>; stop(): Promise<HealthSample[]> } {
  const child = spawn(process.execPath, ['--import', 'tsx', PROBE, `${url}/-/healthz`, ca ?? '-', String(intervalMs)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const samples: HealthSample[] = [];
  let rest = '';
  child.stdout.on('data', (c: Buffer) => {
    const lines = (rest + c.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const [t, ms, status] = line.split(' ').map(Number);
      samples.push({ t, ms, status });
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  return {
    samples,
    /** Resolves once `count` checks were answered 200 (the process is up and its connections are open). */
    ready: async (count = 10) => {
      const deadline = Date.now() + 60_000;
      while (samples.filter((s) => s.status === 200).length < count) {
        if (exitedEarly) throw new Error('the health probe exited before it was ready');
        if (Date.now() > deadline) throw new Error(`the health probe got no ${count} answers in 60 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      return samples;
    },
  };
}

/** Latency percentiles of the checks due between two Date.now() times. */
export function healthStats(samples: HealthSample[], from: number, to: number): HealthStats {
  const inWindow = samples.filter((s) => s.t >= from && s.t < to);
  const ms = inWindow.map((s) => s.ms);
  return {
    n: ms.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length ? Math.max(...ms) : NaN,
    failed: inWindow.filter((s) => s.status !== 200).length,
  };
}
