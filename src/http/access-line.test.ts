import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accessLine, accessLineFormatter, formatHundredths } from './access-line.js';
import { requestIdOf, type RequestId } from './request-id.js';

describe('formatHundredths', () => {
  it('prints what Math.round(ms * 100) / 100 prints', () => {
    for (let h = 0; h < 20_000; h++) {
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

describe('accessLine', () => {
  it('is the line the access log has always written: JSON-escaped strings, the duration to hundredths', () => {
    const reqId = 'a"b\\c\u0001\ud800 é';
    const url = '/x"y\\zé\u2028\t';
    const expected =
      String.raw`{"level":30,"time":1700000000000,"pid":1,"hostname":"h\"ost","reqId":"a\"b\\c\u0001\ud800 é","method":"GET","url":"/x\"y\\zé` +
      '\u2028' +
      String.raw`\t","status":304,"ms":1,"repo":"ju\"lia","msg":"request"}` +
      '\n';
    expect(accessLine({ pid: 1, hostname: 'h"ost' }, 1_700_000_000_000, reqId, 'GET', url, 304, 1.005, 'ju"lia')).toBe(expected);
    // The formatter's ids are plain (RequestId); everything else may hold anything.
    const id = 'trace 1-2_3' as RequestId;
    expect(accessLineFormatter({ pid: 1, hostname: 'h"ost' })(1_700_000_000_000, id, 'GET', url, 304, 1.005, 'ju"lia')).toBe(
      accessLine({ pid: 1, hostname: 'h"ost' }, 1_700_000_000_000, id, 'GET', url, 304, 1.005, 'ju"lia'),
    );
    const plain = accessLineFormatter({ pid: 2, hostname: 'h' })(
      5,
      'id-1' as RequestId,
      'HEAD',
      '/cargo/index/se/rd/serde',
      200,
      12.3456,
      'cargo',
    );
    expect(plain).toBe(
      '{"level":30,"time":5,"pid":2,"hostname":"h","reqId":"id-1","method":"HEAD","url":"/cargo/index/se/rd/serde","status":200,"ms":12.35,"repo":"cargo","msg":"request"}\n',
    );
  });
});

describe('accessLineFormatter', () => {
  it('writes the line the plain template writes, for any request id, URL, method, status, duration and repo', () => {
    const bindings = { pid: 4242, hostname: 'host "é"' };
    const format = accessLineFormatter(bindings);
    let now = 1_700_000_000_000;
    // Printable ASCII (the usual URL, `"` and `\` included) or anything at all.
    const text = fc.oneof(
      fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
      fc.string({ unit: 'binary' }),
    );
    // Any id requestIdOf gives for any x-request-id a client sends (kept or replaced).
    const requestId = text.map((incoming) => requestIdOf({ 'x-request-id': incoming }));
    fc.assert(
      fc.property(
        requestId,
        fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'),
        text,
        fc.integer({ min: 100, max: 599 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.constantFrom('cargo', 'bazel', '-', 'ju"lia'),
        fc.boolean(),
        (reqId, method, url, status, ms, repo, tick) => {
          if (tick) now++;
          const line = format(now, reqId, method, url, status, ms, repo);
          expect(line).toBe(accessLine(bindings, now, reqId, method, url, status, ms, repo));
          const parsed = JSON.parse(line) as Record<string, unknown>;
          expect(parsed).toMatchObject({ level: 30, time: now, pid: 4242, reqId, method, url, status, repo, msg: 'request' });
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
