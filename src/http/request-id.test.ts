import { describe, expect, it } from 'vitest';
import { nextRequestId, requestIdOf } from './request-id.js';

describe('nextRequestId', () => {
  it('gives UUID-shaped ids that do not repeat', () => {
    const ids = Array.from({ length: 10_000 }, () => nextRequestId());
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('counts on from one id to the next, across the low digits of the counter', () => {
    const ids = Array.from({ length: 9_000 }, () => nextRequestId());
    const prefix = ids[0].slice(0, 24);
    const first = parseInt(ids[0].slice(24), 16);
    ids.forEach((id, i) => {
      expect(id.slice(0, 24)).toBe(prefix);
      expect(id.slice(24)).toBe((first + i).toString(16).padStart(12, '0'));
    });
  });
});

describe('requestIdOf', () => {
  it("keeps a client's x-request-id of 1–200 printable ASCII characters but quote and backslash, and replaces any other", () => {
    for (const kept of ['trace-abc-123', 'a b', '~!#$%&()*+,./:;<=>?@[]^_`{|}', 'x'.repeat(200)])
      expect(requestIdOf({ 'x-request-id': kept })).toBe(kept);
    for (const replaced of ['', 'a"b', 'a\\b', 'tab\t', 'caf\u00e9', '\u0001', 'x'.repeat(201)]) {
      const id = requestIdOf({ 'x-request-id': replaced });
      expect(id).not.toBe(replaced);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(requestIdOf({})).toMatch(/^[0-9a-f-]{36}$/);
  });
});
