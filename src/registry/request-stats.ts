/** One rendered sample: prom-client's registry turns these into exposition lines. */
interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** What prom-client's Registry#registerMetric needs of a metric: a name and `get()`. */
export interface CustomMetric {
  name: string;
  help: string;
  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: string };
  reset(): void;
}

/** Latency buckets in seconds (the same as larder_http_request_duration_seconds always had). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * Requests of one (repo, format): counts by status and a latency histogram as plain numbers. prom-client's labelled
 * children hash their label object on every inc/observe; a request holds its series and only adds.
 */
export class RequestSeries {
  readonly statuses = new Map<number, number>();
  /** Per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  count = 0;
  sum = 0;

  constructor(
    readonly repo: string,
    readonly format: string,
  ) {}

  /** One answered request: its status and how long it took, in seconds. */
  record(status: number, seconds: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.buckets[i]++;
    this.count++;
    this.sum += seconds;
  }
}

/** Every request series of a server, exposed as larder_http_requests_total and larder_http_request_duration_seconds. */
export class RequestStats {
  private readonly series = new Map<string, RequestSeries>();

  /** The series of a (repo, format), made on first use; callers keep it. */
  of(repo: string, format: string): RequestSeries {
    const key = `${repo}\0${format}`;
    let s = this.series.get(key);
    if (!s) {
      s = new RequestSeries(repo, format);
      this.series.set(key, s);
    }
    return s;
  }

  /** The counter, in the shape prom-client's registry renders (a metric with `get()`). */
  counterMetric(): CustomMetric {
    const all = this.series;
    return custom('larder_http_requests_total', 'HTTP requests by repository, format and status code', 'counter', () => {
      const values: Sample[] = [];
      for (const s of all.values())
        for (const [status, n] of s.statuses) values.push({ labels: { repo: s.repo, format: s.format, status }, value: n });
      return values;
    });
  }

  /** The latency histogram, rendered as prom-client renders one (cumulative buckets, then _sum and _count). */
  histogramMetric(): CustomMetric {
    const all = this.series;
    const name = 'larder_http_request_duration_seconds';
    return custom(name, 'HTTP request latency by repository and format', 'histogram', () => {
      const values: Sample[] = [];
      for (const s of all.values()) {
        let acc = 0;
        for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
          acc += s.buckets[i];
          const le = i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i] : '+Inf';
          values.push({ metricName: `${name}_bucket`, labels: { le, repo: s.repo, format: s.format }, value: acc });
        }
        values.push({ metricName: `${name}_sum`, labels: { repo: s.repo, format: s.format }, value: s.sum });
        values.push({ metricName: `${name}_count`, labels: { repo: s.repo, format: s.format }, value: s.count });
      }
      return values;
    });
  }
}

function custom(name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): CustomMetric {
  return { name, help, get: () => ({ name, help, type, values: values(), aggregator: 'sum' }), reset() {} };
}
