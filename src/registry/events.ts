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

export interface IndexChangeListener {
  close(): Promise<void>;
}

/**
 * Listens for other nodes' index changes. When the connection drops, notifications may have
 * been missed, so `onReset` (forget everything cached) runs before listening again.
 */
export async function listenForIndexChanges(
  url: string,
  onChange: (repoId: number, path: string) => void,
  onReset: () => void,
  log: (msg: string, err?: unknown) => void = () => {},
): Promise<IndexChangeListener> {
  let closed = false;
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;

  const { default: pgModule } = await import('pg');
  const connect = async (): Promise<void> => {
    const c = new pgModule.Client({ connectionString: url });
    c.on('notification', (msg) => {
      if (msg.channel !== INDEX_CHANNEL || !msg.payload) return;
      const nl = msg.payload.indexOf('\n');
      onChange(Number(msg.payload.slice(0, nl)), msg.payload.slice(nl + 1));
    });
    c.on('error', (err) => {
      log('index change listener lost its connection; reconnecting', err);
      void c.end().catch(() => {});
      schedule();
    });
    await c.connect();
    await c.query(`LISTEN ${INDEX_CHANNEL}`);
    client = c;
  };
  const schedule = () => {
    if (closed || retry) return;
    client = null;
    onReset();
    retry = setTimeout(() => {
      retry = null;
      connect().catch((err) => {
        log('index change listener could not reconnect', err);
        schedule();
      });
    }, 1000);
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => {});
    },
  };
}
