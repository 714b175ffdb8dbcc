import type pg from 'pg';
import type { PostgresPool } from 'kysely';
import { LarderError } from '../core/errors.js';

// Node's socket errors and pg's own messages when the server is unreachable or went away.
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const GONE = /Connection terminated|timeout exceeded when trying to connect|is not queryable|Connection ended/i;

/**
 * True when `err` says the PostgreSQL server cannot be reached or dropped the connection (SQLSTATE
 * class 08, an administrator or crash shutdown, too many connections), not that a statement was wrong.
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') {
    if (SOCKET_CODES.has(e.code) || e.code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(e.code)) return true;
  }
  return typeof e?.message === 'string' && GONE.test(e.message);
}

/** The catalogue error for an unreachable database: 503 with Retry-After, so clients and load balancers retry. */
export function databaseUnavailable(err: unknown): LarderError {
  const e = err as { code?: unknown; message?: unknown };
  const reason = typeof e?.code === 'string' ? e.code : typeof e?.message === 'string' ? e.message : 'no answer';
  return new LarderError('DATABASE_UNAVAILABLE', `the database cannot be reached right now (${reason}); retry in a few seconds`, {
    'retry-after': '5',
  });
}

/** True for the catalogue error `databaseUnavailable` builds: callers with a held copy serve it instead. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return err instanceof LarderError && err.code === 'DATABASE_UNAVAILABLE';
}

function mapError(err: unknown): never {
  throw isDatabaseUnreachable(err) ? databaseUnavailable(err) : err;
}

/**
 * A pg pool for Kysely that survives the server going away. pg emits 'error' on a client whose
 * connection drops, also while a request holds it (a publish inside its transaction): without a
 * listener that crashes the process. Such failures reach callers as DATABASE_UNAVAILABLE; pg drops
 * broken clients from the pool and the next query connects afresh.
 */
export function resilientPool(pool: pg.Pool, onLost: (err: Error) => void): PostgresPool {
  // Idle clients: the pool removes them itself.
  pool.on('error', onLost);
  pool.on('connect', (client) => {
    client.on('error', onLost);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const result = query(...args);
      return result instanceof Promise ? result.catch(mapError) : result;
    };
  });
  return {
    // Whatever stops a connection being made (refused, timed out, the database not accepting connections) means unavailable.
    connect: () =>
      pool.connect().catch((err: unknown) => {
        throw databaseUnavailable(err);
      }),
    end: () => pool.end(),
  };
}
