/**
 * Running the real `cargo` from tests: a clean environment (nothing inherited from the caller's
 * cargo or rustc settings), its own process group, a timeout, and its output kept for messages.
 */
import { spawn } from 'node:child_process';

const CARGO_TIMEOUT_MS = 120_000;

export interface CargoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout followed by stderr: what the user sees in the terminal. */
  output: string;
  ms: number;
}

/** The environment without anything cargo- or rustc-specific inherited from the caller. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CARGO|RUSTC|RUSTDOC|RUSTFLAGS|RUSTDOCFLAGS|RUST_LOG)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/**
 * Runs cargo asynchronously (the server lives in this process, so a synchronous spawn would
 * deadlock). It runs in its own process group so that a timeout kills rustc children as well.
 */
export function runCargo(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<CargoRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('cargo', args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, CARGO_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: stdout + stderr, ms: Date.now() - started });
    });
    // cargo may exit without reading its input; that must not surface as an EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Fails with cargo's own output when it did not exit 0, so a failure explains itself. */
export function expectOk(run: CargoRun): CargoRun {
  if (run.code !== 0) throw new Error(`cargo exited with ${run.code ?? run.signal}:\n${run.output}`);
  return run;
}
