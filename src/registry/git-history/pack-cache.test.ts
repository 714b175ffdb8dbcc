import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isCloneRequest } from './pack-cache.js';

const pkt = (line: string) => (line.length + 5).toString(16).padStart(4, '0') + line + '\n';
const body = (...parts: string[]) => Buffer.from(parts.join(''), 'latin1');
const WANT = `want ${'a'.repeat(40)}`;

describe('isCloneRequest', () => {
  it('takes a v0 clone and a v2 fetch with wants and done, gzipped or not', () => {
    expect(isCloneRequest(body(pkt(`${WANT} side-band-64k ofs-delta`), '0000', pkt('done')), '')).toBe(true);
    const v2 = body(pkt('command=fetch'), pkt('agent=git/2.39'), '0001', pkt('thin-pack'), pkt(WANT), pkt('deepen 1'), pkt('done'), '0000');
    expect(isCloneRequest(v2, '')).toBe(true);
    expect(isCloneRequest(gzipSync(v2), 'gzip')).toBe(true);
  });

  it('refuses negotiation, other commands, unknown encodings and malformed bodies', () => {
    expect(isCloneRequest(body(pkt(WANT), '0000', pkt(`have ${'b'.repeat(40)}`), pkt('done')), '')).toBe(false);
    expect(isCloneRequest(body(pkt(WANT), '0000', pkt(`have ${'b'.repeat(40)}`), '0000'), '')).toBe(false);
    expect(isCloneRequest(body(pkt('command=ls-refs'), '0001', pkt('peel'), '0000'), '')).toBe(false);
    expect(isCloneRequest(body(pkt(WANT), '0000', pkt('done')), 'br')).toBe(false);
    expect(isCloneRequest(Buffer.from('zzzz garbage'), '')).toBe(false);
    expect(isCloneRequest(Buffer.from('00ffshort'), '')).toBe(false);
    expect(isCloneRequest(Buffer.from('not gzip'), 'gzip')).toBe(false);
  });
});
