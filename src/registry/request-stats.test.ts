import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestStats } from './request-stats.js';

describe('request stats', () => {
  it('renders counts by status and cumulative latency buckets as Prometheus text', async () => {
    const stats = new RequestStats();
    const registry = new client.Registry();
    registry.registerMetric(stats.counterMetric() as never);
    registry.registerMetric(stats.histogramMetric() as never);
    const cargo = stats.of('cargo', 'cargo');
    expect(stats.of('cargo', 'cargo')).toBe(cargo);
    cargo.record(200, 0.0004);
    cargo.record(200, 0.003);
    cargo.record(304, 20);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE larder_http_requests_total counter');
    expect(text).toContain('larder_http_requests_total{repo="cargo",format="cargo",status="200"} 2');
    expect(text).toContain('larder_http_requests_total{repo="cargo",format="cargo",status="304"} 1');
    expect(text).toContain('# TYPE larder_http_request_duration_seconds histogram');
    expect(text).toContain('larder_http_request_duration_seconds_bucket{le="0.0005",repo="cargo",format="cargo"} 1');
    expect(text).toContain('larder_http_request_duration_seconds_bucket{le="0.0025",repo="cargo",format="cargo"} 1');
    expect(text).toContain('larder_http_request_duration_seconds_bucket{le="0.005",repo="cargo",format="cargo"} 2');
    expect(text).toContain('larder_http_request_duration_seconds_bucket{le="10",repo="cargo",format="cargo"} 2');
    expect(text).toContain('larder_http_request_duration_seconds_bucket{le="+Inf",repo="cargo",format="cargo"} 3');
    expect(text).toContain('larder_http_request_duration_seconds_count{repo="cargo",format="cargo"} 3');
    expect(text).toMatch(/larder_http_request_duration_seconds_sum\{repo="cargo",format="cargo"\} 20\.003/);
  });
});
