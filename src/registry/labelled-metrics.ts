/**
 * Counters and gauges by label as plain numbers, in the shape prom-client's registry renders (request-stats.ts does the
 * same for requests): every server counts from its first request on, while prom-client itself is loaded only once the
 * server listens (cold start, issue 14; registry/metrics.ts).
 */
import type { CustomMetric } from './request-stats.js';

type Labels<L extends string> = Partial<Record<L, string | number>>;

/** A metric's samples by label set, in the order the label sets were first seen. */
abstract class Labelled<L extends string> implements CustomMetric {
  private readonly samples = new Map<string, { labels: Labels<L>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly type: 'counter' | 'gauge',
  ) {}

  protected sample(labels: Labels<L>): { labels: Labels<L>; value: number } {
    const key = JSON.stringify(labels);
    let s = this.samples.get(key);
    if (!s) this.samples.set(key, (s = { labels: { ...labels }, value: 0 }));
    return s;
  }

  /** What prom-client's `get()` gives: the samples, each with its labels. */
  get(): ReturnType<CustomMetric['get']> {
    const values = [...this.samples.values()].map((s) => ({ labels: { ...s.labels } as Record<string, string | number>, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  reset(): void {
    this.samples.clear();
  }
}

/** A counter by labels: `inc({ repo: 'cargo' })`, as prom-client's Counter. */
export class LabelledCounter<L extends string> extends Labelled<L> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels: Labels<L>, value = 1): void {
    this.sample(labels).value += value;
  }
}

/** A gauge by labels: `set({ repo: 'cargo' }, 42)`, as prom-client's Gauge. */
export class LabelledGauge<L extends string> extends Labelled<L> {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(labels: Labels<L>, value: number): void {
    this.sample(labels).value = value;
  }
}
