import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';

export interface Logging {
  logger: Logger;
  /** Writes one request line; null when the level is above `info`. */
  access: ((fields: AccessLine) => void) | null;
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
  const destination = pino.destination({ dest: 1, sync: false });
  const logger = pino({ level }, destination);
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    pendingBytes = 0;
    destination.write(chunk);
  };
  setInterval(flush, ACCESS_FLUSH_MS).unref();
  // pino ends the stream at 'beforeExit' once written (the request lines must be in by then), and
  // writes what it holds at 'exit'; the lines still here are written after it.
  process.on('beforeExit', flush);
  process.once('exit', () => {
    if (pending.length === 0) return;
    try {
      flush();
      destination.flushSync();
    } catch {
      // The stream has already ended (at 'beforeExit'): there is nowhere left to write.
    }
  });
  const prefix = `{"level":${LEVEL_INFO},"time":`;
  const bindings = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
  const access = logger.isLevelEnabled('info')
    ? (l: AccessLine) => {
        const line = `${prefix}${Date.now()}${bindings},"reqId":${JSON.stringify(l.reqId)},"method":"${l.method}","url":${JSON.stringify(l.url)},"status":${l.status},"ms":${l.ms},"repo":${JSON.stringify(l.repo)},"msg":"request"}\n`;
        pending.push(line);
        pendingBytes += line.length;
        if (pendingBytes >= ACCESS_FLUSH_BYTES) flush();
      }
    : null;
  return { logger, access, flush };
}
