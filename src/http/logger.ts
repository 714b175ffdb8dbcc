import { fstatSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { SonicBoom } from 'sonic-boom';
import { importCjs } from '../core/cjs.js';
import type { RegistryLog } from '../registry/registry.js';
import { LineChunks } from './log-chunks.js';
import { AccessBatch } from './access-batch.js';
import { accessLineFormatter } from './access-line.js';
import type { RequestId } from './request-id.js';

export interface Logging {
  /** What services log through: to pino once it is loaded (`load`), kept in order until then. */
  log: RegistryLog;
  /** Writes one request line; null when the level is above `info`. */
  access: AccessLog | null;
  /** Loads pino (`larder serve` does once it listens: cold start, issue 14), then writes what was kept meanwhile. */
  load(): Promise<Logger>;
  flush(): void;
  /**
   * Writes what is held and waits until stdout's reader has taken it, at most EXIT_WRITE_MS; past that, what it has not
   * taken is dropped at exit instead of blocking it (a stopping server must not hang on a stalled log reader).
   */
  settle(): Promise<void>;
}

/** Whether stdout is a regular file (a redirect into a log file), which takes a write at once. */
function writesToFile(): boolean {
  try {
    return fstatSync(1).isFile();
  } catch {
    return false;
  }
}

/** One request line: its id, method, URL, status, duration in milliseconds and repo (`-` for Larder's own routes). */
export type AccessLog = (reqId: RequestId, method: string, url: string, status: number, ms: number, repo: string) => void;

/** pino's numbers for the levels Larder logs through `RegistryLog`. */
const PINO_LEVELS = { info: 30, warn: 40 } as const;
/** pino's levels at or below `info`: those that write request lines. */
const WRITES_REQUESTS = new Set(['info', 'debug', 'trace']);

const ACCESS_FLUSH_MS = 200;
/** At exit, how long a write to stdout may keep failing with EAGAIN (its reader is behind) before the rest is dropped. */
const EXIT_WRITE_MS = 5000;

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
 * When stdout is a file (`larder serve >> larder.log`), the batches are written to it synchronously, as nginx writes its
 * access log: the page cache takes them at once, one chunk of bytes is reused for ever, and no write goes through
 * libuv's thread pool. Otherwise (a pipe, a terminal) the stream writes asynchronously: a synchronous write blocks the
 * event loop while stdout's reader is behind, and on a full non-blocking pipe (EAGAIN) sonic-boom sleeps 100 ms with
 * every request waiting. Whatever is pending is written synchronously when the process exits, for at most
 * EXIT_WRITE_MS while stdout's reader takes nothing (pino's own stream would retry forever: a stalled reader kept a
 * stopping server from exiting).
 */
export function createLogging(level: string): Logging {
  // Takes written bytes once the stream is loaded: true when it is done with them (see LineSink).
  let destination: ((bytes: Buffer) => boolean) | null = null;
  let logger: Logger | null = null;
  let loading: Promise<Logger> | null = null;
  // What was written before pino (and its stream) were loaded, in order: request lines as bytes, pino's as its arguments.
  const early: Array<Buffer | [level: 'warn' | 'info', fields: object, msg: string]> = [];
  const chunks = new LineChunks((bytes) => {
    if (destination) return destination(bytes);
    early.push(bytes);
    return false;
  });
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
  // Once the stream exists: bytes handed to it and bytes it has written, so `settle` knows when it is empty.
  let stream: SonicBoom | null = null;
  let handed = 0;
  let written = 0;
  // While writes to stdout failing with EAGAIN are retried (Infinity: always, until the process is stopping).
  let retryUntil = Infinity;
  /** Bytes into a file, whole, at once; a failing write (a full disk) drops them and says so on stderr, once per cause. */
  const failures = new Set<string>();
  const toFile = (bytes: Buffer): boolean => {
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(1, bytes, at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (!failures.has(code)) {
        failures.add(code);
        process.stderr.write(`larder: cannot write the log to stdout (${code}); its lines are dropped while that lasts\n`);
      }
    }
    return true;
  };
  const load = () =>
    (loading ??= Promise.all([importCjs(import('pino')), importCjs(import('sonic-boom'))]).then(([{ pino }, { SonicBoom: Boom }]) => {
      // Everything written so far joins `early` first, so it is written in the order it came.
      flush();
      if (writesToFile()) destination = toFile;
      else {
        // Bytes, not strings: sonic-boom writes the chunks it is given without copying or re-encoding them.
        const out = new Boom({ fd: 1, sync: false, contentMode: 'buffer', retryEAGAIN: () => Date.now() < retryUntil });
        stream = out;
        out.on('write', (n: number) => (written += n));
        out.on('error', (err: NodeJS.ErrnoException) => {
          // The reader is gone (EPIPE) or stopped reading while the process stops: the lines have nowhere to go.
          if (err.code !== 'EPIPE' && err.code !== 'EAGAIN' && err.code !== 'EBUSY') throw err;
          destination = () => true;
          written = handed;
        });
        destination = (bytes) => {
          handed += bytes.length;
          out.write(bytes as never);
          return false;
        };
      }
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
      // The asynchronous writes keep the event loop alive until they are done; what is left at 'exit' is written there.
      process.on('beforeExit', flush);
      process.once('exit', () => {
        flush();
        const out = stream;
        if (!out || written >= handed) return;
        retryUntil = Math.min(retryUntil, Date.now() + EXIT_WRITE_MS);
        try {
          out.flushSync();
        } catch {
          // stdout's reader took nothing for EXIT_WRITE_MS, or is gone: the rest is dropped rather than the exit blocked.
        }
      });
      for (const entry of early.splice(0)) {
        if (Buffer.isBuffer(entry)) destination(entry);
        else logger[entry[0]](entry[1], entry[2]);
      }
      return logger;
    }));
  const settle = async (ms = EXIT_WRITE_MS) => {
    flush();
    const out = stream;
    if (!out || written >= handed) return;
    retryUntil = Date.now() + ms;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        out.off('write', check);
        out.off('error', done);
        resolve();
      };
      const check = () => written >= handed && done();
      const timer = setTimeout(done, ms);
      out.on('write', check);
      out.on('error', done);
    });
  };
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
  return { log, access, load, flush, settle };
}
