import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { LineChunks } from './log-chunks.js';
import { AccessBatch } from './access-batch.js';
import { accessLineFormatter } from './access-line.js';

export interface Logging {
  logger: Logger;
  /** Writes one request line; null when the level is above `info`. */
  access: AccessLog | null;
  flush(): void;
}

/** One request line: its id, method, URL, status, duration in milliseconds and repo (`-` for Larder's own routes). */
export type AccessLog = (reqId: string, method: string, url: string, status: number, ms: number, repo: string) => void;

const ACCESS_FLUSH_MS = 200;

/**
 * JSON lines on stdout. Request lines bypass pino's generic serialiser and are batched: with
 * one per request, pino's ~5 µs per line (and sonic-boom's own buffering, ~4 µs) were a
 * quarter of an index read's cost. Request lines are held as fields and formatted 64 at a
 * time (http/access-batch.ts) into byte chunks (http/log-chunks.ts), written 128 KiB at a time:
 * lines held as strings until a joined write lived through scavenges into the old generation,
 * and the major collections that followed cost more than the lines. pino's own lines go
 * through the same chunks, after the request lines before them, and are written at once.
 * Request lines reach stdout within 200 ms.
 * The stream writes asynchronously: a synchronous write blocks the event loop while stdout's
 * reader is behind, and on a full non-blocking pipe (EAGAIN) sonic-boom sleeps 100 ms with
 * every request waiting. Whatever is pending is written synchronously when the process exits.
 */
export function createLogging(level: string): Logging {
  // Bytes, not strings: sonic-boom writes the chunks it is given without copying or re-encoding them.
  const destination = pino.destination({ dest: 1, sync: false, contentMode: 'buffer' });
  const chunks = new LineChunks((bytes) => destination.write(bytes as never));
  const batch = new AccessBatch(accessLineFormatter({ pid: process.pid, hostname: hostname() }), chunks);
  const flush = () => {
    batch.drain();
    chunks.flush();
  };
  // pino's own lines come after the request lines before them, and are written at once.
  const logger = pino(
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
      destination.flushSync();
    } catch {
      // The stream has already ended (at 'beforeExit'): there is nowhere left to write.
    }
  });
  const access: AccessLog | null = logger.isLevelEnabled('info')
    ? (reqId, method, url, status, ms, repo) => batch.add(reqId, method, url, status, ms, repo)
    : null;
  return { logger, access, flush };
}
