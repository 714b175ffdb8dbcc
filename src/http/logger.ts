import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { importCjs } from '../core/cjs.js';
import type { RegistryLog } from '../registry/registry.js';

export interface Logging {
  /** What services log through: to pino once it is loaded (`load`), kept in order until then. */
  log: RegistryLog;
  /** Writes one request line; null when the level is above `info`. */
  access: ((fields: AccessLine) => void) | null;
  /** Loads pino (`larder serve` does once it listens: cold start, issue 14), then writes what was kept meanwhile. */
  load(): Promise<Logger>;
  flush(): void;
}

export interface AccessLine {
  reqId: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  repo: string;
}

const LEVEL_INFO = 30;
/** pino's levels at or below `info`: those that write request lines. */
const WRITES_REQUESTS = new Set(['info', 'debug', 'trace']);

const ACCESS_FLUSH_BYTES = 32 * 1024;
const ACCESS_FLUSH_MS = 200;

/**
 * JSON lines on stdout. Request lines bypass pino's generic serialiser and are batched: with
 * one per request, pino's ~5 µs per line (and sonic-boom's own buffering, ~4 µs) were a
 * quarter of an index read's cost; a joined 32 KiB write is well under 1 µs a line. They have
 * pino's shape, so log tooling sees one stream; they reach it within 200 ms.
 * The stream writes asynchronously: a synchronous write blocks the event loop while stdout's
 * reader is behind, and on a full non-blocking pipe (EAGAIN) sonic-boom sleeps 100 ms with
 * every request waiting. Whatever is pending is written synchronously when the process exits.
 */
export function createLogging(level: string): Logging {
  let destination: { write(chunk: string): void; flushSync(): void } | null = null;
  let logger: Logger | null = null;
  let loading: Promise<Logger> | null = null;
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0 || !destination) return;
    const chunk = pending.join('');
    pending = [];
    pendingBytes = 0;
    destination.write(chunk);
  };
  const held: Array<[level: 'warn' | 'info', fields: object, msg: string]> = [];
  const log: RegistryLog = {
    warn: (fields, msg) => (logger ? logger.warn(fields, msg) : held.push(['warn', fields, msg])),
    info: (fields, msg) => (logger ? logger.info(fields, msg) : held.push(['info', fields, msg])),
  };
  const load = () =>
    (loading ??= importCjs(import('pino')).then(({ pino }) => {
      const stream = pino.destination({ dest: 1, sync: false });
      logger = pino({ level }, stream);
      destination = stream;
      setInterval(flush, ACCESS_FLUSH_MS).unref();
      // pino ends the stream at 'beforeExit' once written (the request lines must be in by then), and
      // writes what it holds at 'exit'; the lines still here are written after it.
      process.on('beforeExit', flush);
      process.once('exit', () => {
        if (pending.length === 0) return;
        try {
          flush();
          stream.flushSync();
        } catch {
          // The stream has already ended (at 'beforeExit'): there is nowhere left to write.
        }
      });
      for (const [lvl, fields, msg] of held.splice(0)) logger[lvl](fields, msg);
      flush();
      return logger;
    }));
  // A process that ends before pino was loaded still writes the request lines it answered.
  process.once('exit', () => {
    if (!destination && pending.length > 0) writeSync(1, pending.join(''));
  });
  const prefix = `{"level":${LEVEL_INFO},"time":`;
  const bindings = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
  const access = WRITES_REQUESTS.has(level)
    ? (l: AccessLine) => {
        const line = `${prefix}${Date.now()}${bindings},"reqId":${JSON.stringify(l.reqId)},"method":"${l.method}","url":${JSON.stringify(l.url)},"status":${l.status},"ms":${l.ms},"repo":${JSON.stringify(l.repo)},"msg":"request"}\n`;
        pending.push(line);
        pendingBytes += line.length;
        if (pendingBytes >= ACCESS_FLUSH_BYTES) flush();
      }
    : null;
  return { log, access, load, flush };
}
