import cluster, { type Worker } from 'node:cluster';
import { isPeerMessage, type PeerMessage } from '../registry/cluster-peers.js';

/**
 * The primary of `larder serve --workers N`: forks the workers (which share the listening
 * port), relays index changes between them and acknowledges a change to its sender only once
 * every other worker has dropped its cached copy. A worker that dies is replaced.
 */
export function runPrimary(count: number, onAllListening: (port: number) => void): { stop(signal: NodeJS.Signals): Promise<void> } {
  let stopping = false;
  let listening = 0;
  const pending = new Map<string, { origin: Worker; waitingFor: Set<number> }>();

  const settle = (id: string) => {
    const p = pending.get(id);
    if (!p || p.waitingFor.size > 0) return;
    pending.delete(id);
    if (p.origin.isConnected()) p.origin.send({ larder: 'index-acked', id } satisfies PeerMessage);
  };

  const onMessage = (from: Worker, m: unknown) => {
    if (!isPeerMessage(m)) return;
    if (m.larder === 'index-changed') {
      const others = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.id !== from.id && w.isConnected());
      pending.set(m.id, { origin: from, waitingFor: new Set(others.map((w) => w.id)) });
      for (const w of others) w.send(m);
      settle(m.id);
    } else if (m.larder === 'index-ack') {
      pending.get(m.id)?.waitingFor.delete(from.id);
      settle(m.id);
    }
  };

  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m) => onMessage(w, m));
    w.once('listening', (address) => {
      if (++listening === count) onAllListening(address.port);
    });
  };

  cluster.on('exit', (w, code, signal) => {
    // Nobody will acknowledge for a dead worker.
    for (const [id, p] of pending) {
      p.waitingFor.delete(w.id);
      settle(id);
    }
    if (!stopping) {
      process.stderr.write(`larder: worker ${w.process.pid} exited (${signal ?? code}); starting another\n`);
      fork();
    }
  });
  for (let i = 0; i < count; i++) fork();

  return {
    // Each worker gets the signal the primary got: on SIGTERM every worker drains (readyz 503)
    // before it closes; the primary waits for all of them.
    stop: (signal) =>
      new Promise<void>((resolve) => {
        stopping = true;
        const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
        if (alive.length === 0) return resolve();
        let left = alive.length;
        for (const w of alive) {
          w.once('exit', () => --left === 0 && resolve());
          w.process.kill(signal);
        }
      }),
  };
}
