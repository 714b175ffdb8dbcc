import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { accessLine, accessLineFormatter, formatHundredths, jsonString } from './access-line.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('formatHundredths', () => {
  it('prints what Math.round(ms * 100) / 100 prints', () => {
    for (let h = 0; h < 200_000; h++) {
      for (const ms of [h / 100, h / 100 + 0.004, h / 100 - 0.004, h / 100 + 0.005]) {
        expect(formatHundredths(ms)).toBe(String(Math.round(ms * 100) / 100));
      }
    }
    fc.assert(
      fc.property(fc.double({ noNaN: false }), (ms) => formatHundredths(ms) === String(Math.round(ms * 100) / 100)),
      { numRuns: 20_000 },
    );
  });
});

describe('jsonString', () => {
  it('is JSON.stringify', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => jsonString(s) === JSON.stringify(s)));
    expect(jsonString('/cargo/index/se/rd/serde')).toBe('"/cargo/index/se/rd/serde"');
    expect(jsonString('a"b\\c\u0001é')).toBe(JSON.stringify('a"b\\c\u0001é'));
  });
});

describe('accessLineFormatter', () => {
  it('writes the line the plain template writes, for any id, URL, method, status, duration and repo', () => {
    const bindings = { pid: 4242, hostname: 'host "é"' };
    const format = accessLineFormatter(bindings);
    let now = 1_700_000_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'),
        fc.string({ unit: 'binary' }),
        fc.integer({ min: 100, max: 599 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.constantFrom('cargo', 'bazel', '-', 'ju"lia'),
        fc.boolean(),
        (reqId, method, url, status, ms, repo, tick) => {
          if (tick) now++;
          const line = format(reqId, method, url, status, ms, repo);
          expect(line).toBe(accessLine(bindings, now, reqId, method, url, status, ms, repo));
          const parsed = JSON.parse(line) as Record<string, unknown>;
          expect(parsed).toMatchObject({ level: 30, time: now, pid: 4242, reqId, method, url, status, repo, msg: 'request' });
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
