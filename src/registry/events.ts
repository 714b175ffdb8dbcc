import type pg from 'pg';
import { sql } from 'kysely';
import type { Trx } from '../storage/db.js';

/** The PostgreSQL channel on which nodes announce changed index documents. */
export const INDEX_CHANNEL = 'larder_index_docs';

/**
 * Announces a changed document to every node, inside the transaction that changes it:
 * PostgreSQL delivers a NOTIFY only when (and if) that transaction commits.
 */
export async function announceIndexChange(trx: Trx, repoId: number, path: string): Promise<void> {
  await sql`select pg_notify(${INDEX_CHANNEL}, ${`${repoId}\n${path}`})`.execute(trx);
}

/** Whether this process hears about other processes' changes (what /-/readyz reports). */
export interface ChangeFeed {
  /** True while announcements arrive: LISTEN is established (or SQLite's change log is polled). */
  readonly listening: boolean;
}

export interface IndexChangeListener extends ChangeFeed {
  close(): Promise<void>;
}

export interface ListenerOptions {
  onChange(repoId: number, path: string): void;
  /** LISTEN is back after a loss: announcements sent meanwhile are gone, so every cache must go. */
  onReconnected(): void;
  log?(msg: string, err?: unknown): void;
  /** How often the idle connection is checked with a query (a dead peer sends no error). */
  heartbeatMs?: number;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/**
 * Listens for other nodes' index changes. While the connection is lost, cached documents keep
 * being served (they were current when it dropped); it reconnects with backoff, and only once
 * LISTEN is established again are caches dropped, so a read in between cannot re-cache a
 * document whose change announcement was missed.
 */
export async function listenForIndexChanges(url: string, opts: ListenerOptions): Promise<IndexChangeListener> {
  const log = opts.log ?? (() => {});
  const heartbeatMs = opts.heartbeatMs ?? 5_000;
  let closed = false;
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let failures = 0;
  let lostAt = 0;

  const { default: pgModule } = await import('pg');

  const lost = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = null;
    lostAt = Date.now();
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    void c.end().catch(() => {});
    if (closed) return;
    log('index change listener lost its database connection; serving cached documents and reconnecting', err);
    schedule();
  };

  const connect = async (): Promise<void> => {
    const c = new pgModule.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 5_000 });
    c.on('notification', (msg) => {
      if (msg.channel !== INDEX_CHANNEL || !msg.payload) return;
      const nl = msg.payload.indexOf('\n');
      opts.onChange(Number(msg.payload.slice(0, nl)), msg.payload.slice(nl + 1));
    });
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${INDEX_CHANNEL}`);
    } catch (err) {
      c.removeAllListeners('end');
      c.on('error', () => {});
      void c.end().catch(() => {});
      throw err;
    }
    if (closed) {
      void c.end().catch(() => {});
      return;
    }
    client = c;
    heartbeat = setInterval(() => {
      c.query('select 1').catch((err: unknown) => lost(c, err));
    }, heartbeatMs);
    heartbeat.unref();
  };

  const schedule = () => {
    if (closed || retry) return;
    // Exponential backoff with jitter, so nodes that lost the same server do not reconnect in step.
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures) * (0.5 + Math.random() / 2);
    retry = setTimeout(() => {
      retry = null;
      connect().then(
        () => {
          if (closed || !client) return;
          failures = 0;
          opts.onReconnected();
          log(`index change listener is back after ${Date.now() - lostAt} ms; cached documents dropped`);
        },
        (err: unknown) => {
          failures++;
          if (failures === 1 || failures % 10 === 0) log(`index change listener could not reconnect (attempt ${failures})`, err);
          schedule();
        },
      );
    }, delay);
    retry.unref();
  };

  await connect();
  return {
    get listening() {
      return client !== null;
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      if (heartbeat) clearInterval(heartbeat);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
