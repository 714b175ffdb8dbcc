import cluster from 'node:cluster';

/** Messages between a worker and the primary about changed index documents. */
export type PeerMessage =
  | { larder: 'index-changed'; id: string; repoId: number; path: string }
  | { larder: 'index-ack'; id: string }
  | { larder: 'index-acked'; id: string };

export function isPeerMessage(m: unknown): m is PeerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { larder?: unknown }).larder === 'string';
}

/** Tells the other server processes on this machine that an index document changed. */
export interface IndexPeers {
  /** Resolves once every other worker has dropped its cached copy (or after a timeout). */
  changed(repoId: number, path: string): Promise<void>;
}

// A worker that died mid-acknowledgement must not hold a publish up for long.
const ACK_TIMEOUT_MS = 2000;

/**
 * In a cluster worker: announces local changes through the primary and applies other workers'
 * changes to this worker's cache. Returns null outside a cluster worker.
 */
export function clusterPeers(invalidate: (repoId: number, path: string) => void): IndexPeers | null {
  if (!cluster.isWorker || !process.send) return null;
  const waiting = new Map<string, () => void>();
  let seq = 0;
  process.on('message', (m: unknown) => {
    if (!isPeerMessage(m)) return;
    if (m.larder === 'index-changed') {
      invalidate(m.repoId, m.path);
      process.send!({ larder: 'index-ack', id: m.id } satisfies PeerMessage);
    } else if (m.larder === 'index-acked') {
      waiting.get(m.id)?.();
    }
  });
  return {
    changed(repoId, path) {
      const id = `${process.pid}:${++seq}`;
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        };
        const timer = setTimeout(done, ACK_TIMEOUT_MS);
        waiting.set(id, done);
        process.send!({ larder: 'index-changed', id, repoId, path } satisfies PeerMessage);
      });
    },
  };
}
