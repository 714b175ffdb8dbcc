import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { importCjs } from '../core/cjs.js';
import type { RegistryLog } from '../registry/registry.js';
import { LineChunks } from './log-chunks.js';
import { AccessBatch } from './access-batch.js';
import { accessLineFormatter } from './access-line.js';

export interface Logging {
  /** What services log through: to pino once it is loaded (`load`), kept in order until then. */
  log: RegistryLog;
  /** Writes one request line; null when the level is above `info`. */
  access: AccessLog | null;
  /** Loads pino (`larder serve` does once it listens: cold start, issue 14), then writes what was kept meanwhile. */
  load(): Promise<Logger>;
  flush(): void;
}

/** One request line: its id, method, URL, status, duration in milliseconds and repo (`-` for Larder's own routes). */
export type AccessLog = (reqId: string, method: string, url: string, status: number, ms: number, repo: string) => void;

/** pino's numbers for the levels Larder logs through `RegistryLog`. */
const PINO_LEVELS = { info: 30, warn: 40 } as const;
/** pino's levels at or below `info`: those that write request lines. */
const WRITES_REQUESTS = new Set(['info', 'debug', 'trace']);

const ACCESS_FLUSH_MS = 200;

/**
 * JSON lines on stdout. Request lines bypass pino's generic serialiser and are batched: with
 * one per request, pino's ~5 µs per line (and sonic-boom's own buffering, ~4 µs) were a
 * quarter of an index read's cost. Request lines are held as fields and formatted 64 at a
 * time (http/access-batch.ts) into byte chunks (http/log-chunks.ts), written 128 KiB at a time:
 * lines held as strings until a joined write lived through scavenges into the old generation,
 * and the major collections that followed cost more than the lines. pino's own lines go
 * through the same chunks, after the request lines before them, and are written at once.
 * Request lines reach stdout within 200 ms of pino being loaded (`load`, once the server listens);
 * the bytes formatted before that are kept and written first.
 * The stream writes asynchronously: a synchronous write blocks the event loop while stdout's
 * reader is behind, and on a full non-blocking pipe (EAGAIN) sonic-boom sleeps 100 ms with
 * every request waiting. Whatever is pending is written synchronously when the process exits.
 */
export function createLogging(level: string): Logging {
  let destination: ((bytes: Buffer) => void) | null = null;
  let logger: Logger | null = null;
  let loading: Promise<Logger> | null = null;
  // What was written before pino (and its stream) were loaded, in order: request lines as bytes, pino's as its arguments.
  const early: Array<Buffer | [level: 'warn' | 'info', fields: object, msg: string]> = [];
  const chunks = new LineChunks((bytes) => (destination ? destination(bytes) : early.push(bytes)));
  const batch = new AccessBatch(accessLineFormatter({ pid: process.pid, hostname: hostname() }), chunks);
  const flush = () => {
    batch.drain();
    chunks.flush();
  };
  const hold = (level: 'warn' | 'info', fields: object, msg: string) => {
    flush();
    early.push([level, fields, msg]);
  };
  const log: RegistryLog = {
    warn: (fields, msg) => (logger ? logger.warn(fields, msg) : hold('warn', fields, msg)),
    info: (fields, msg) => (logger ? logger.info(fields, msg) : hold('info', fields, msg)),
  };
  const load = () =>
    (loading ??= importCjs(import('pino')).then(({ pino }) => {
      // Bytes, not strings: sonic-boom writes the chunks it is given without copying or re-encoding them.
      const stream = pino.destination({ dest: 1, sync: false, contentMode: 'buffer' });
      // Everything written so far joins `early` first, so it is written in the order it came.
      flush();
      destination = (bytes) => stream.write(bytes as never);
      // pino's own lines come after the request lines before them, and are written at once.
      logger = pino(
        { level },
        {
          write(line: string) {
            batch.drain();
            chunks.append(line);
            chunks.flush();
          },
        },
      );
      setInterval(flush, ACCESS_FLUSH_MS).unref();
      // pino ends the stream at 'beforeExit' once written (the request lines must be in by then), and
      // writes what it holds at 'exit'; the lines still here are written after it.
      process.on('beforeExit', flush);
      process.once('exit', () => {
        if (batch.pending === 0 && chunks.pendingBytes === 0) return;
        try {
          flush();
          stream.flushSync();
        } catch {
          // The stream has already ended (at 'beforeExit'): there is nowhere left to write.
        }
      });
      for (const entry of early.splice(0)) {
        if (Buffer.isBuffer(entry)) stream.write(entry as never);
        else logger[entry[0]](entry[1], entry[2]);
      }
      return logger;
    }));
  // A process that ends before pino was loaded still writes what it logged, in pino's shape (warnings of a failed
  // start included).
  process.once('exit', () => {
    if (destination) return;
    flush();
    const bindings = { pid: process.pid, hostname: hostname() };
    for (const entry of early.splice(0)) {
      if (Buffer.isBuffer(entry)) writeSync(1, entry);
      else writeSync(1, `${JSON.stringify({ level: PINO_LEVELS[entry[0]], time: Date.now(), ...bindings, ...entry[1], msg: entry[2] })}\n`);
    }
  });
  const access: AccessLog | null = WRITES_REQUESTS.has(level)
    ? (reqId, method, url, status, ms, repo) => batch.add(reqId, method, url, status, ms, repo)
    : null;
  return { log, access, load, flush };
}
