import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelledCounter, LabelledGauge } from './labelled-metrics.js';

/** The exposition text of one registry holding `metric`. */
async function exposed(metric: object): Promise<string> {
  const registry = new client.Registry();
  registry.registerMetric(metric as never);
  return registry.metrics();
}

describe('labelled counters and gauges as plain numbers', () => {
  it('render as prom-client renders its own Counter and Gauge', async () => {
    const theirs = new client.Counter({
      name: 'x_total',
      help: 'Things by repo and outcome',
      labelNames: ['repo', 'outcome'],
      registers: [],
    });
    const ours = new LabelledCounter<'repo' | 'outcome'>('x_total', 'Things by repo and outcome');
    expect(await exposed(ours)).toBe(await exposed(theirs));
    for (const c of [theirs, ours]) {
      c.inc({ repo: 'cargo', outcome: 'ok' });
      c.inc({ repo: 'b"az\\el', outcome: 'failed' }, 3);
      c.inc({ repo: 'cargo', outcome: 'ok' }, 2);
    }
    expect(await exposed(ours)).toBe(await exposed(theirs));
    expect(ours.get().values).toEqual((await theirs.get()).values);

    const gauge = new client.Gauge({ name: 'y_bytes', help: 'Bytes by repo', labelNames: ['repo'], registers: [] });
    const ourGauge = new LabelledGauge<'repo'>('y_bytes', 'Bytes by repo');
    for (const g of [gauge, ourGauge]) {
      g.set({ repo: 'cargo' }, 10);
      g.set({ repo: 'cargo' }, 7);
      g.set({ repo: 'julia' }, 1.5);
    }
    expect(await exposed(ourGauge)).toBe(await exposed(gauge));
  });
});
