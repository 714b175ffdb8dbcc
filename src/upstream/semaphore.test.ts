import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  it('lets `limit` holders in, queues the rest in arrival order, and counts a double release once', async () => {
    const s = new Semaphore(2);
    const a = await s.acquire();
    const b = await s.acquire();
    const order: string[] = [];
    const c = s.acquire().then((r) => (order.push('c'), r));
    const d = s.acquire().then((r) => (order.push('d'), r));
    await Promise.resolve();
    expect([s.inFlight, s.queued, order]).toEqual([2, 2, []]);
    a();
    a(); // a second release of the same slot gives nothing back
    const releaseC = await c;
    expect([s.inFlight, s.queued, order]).toEqual([2, 1, ['c']]);
    b();
    const releaseD = await d;
    expect(order).toEqual(['c', 'd']);
    releaseC();
    releaseD();
    expect([s.inFlight, s.queued]).toEqual([0, 0]);
  });
});
