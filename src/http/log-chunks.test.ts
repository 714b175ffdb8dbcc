import { describe, expect, it } from 'vitest';
import { LineChunks } from './log-chunks.js';

/** A sink that keeps what it was given and a copy made at the time (`done`: it says it is done with the bytes). */
function recording(done: (call: number) => boolean = () => false) {
  const given: Array<{ bytes: Buffer; copy: string }> = [];
  return {
    given,
    sink: (bytes: Buffer) => {
      given.push({ bytes, copy: bytes.toString('utf8') });
      return done(given.length);
    },
  };
}

describe('LineChunks', () => {
  it('holds lines until 128 KiB are pending, then hands them out in order, in one piece', () => {
    const { given, sink } = recording();
    const chunks = new LineChunks(sink);
    const lines = Array.from({ length: 1_600 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(200)}"}\n`);
    let i = 0;
    while (given.length === 0) chunks.append(lines[i++]);
    expect(given[0].copy).toBe(lines.slice(0, i).join(''));
    expect(given[0].bytes.length).toBeGreaterThanOrEqual(128 * 1024);
    expect(chunks.pendingBytes).toBe(0);
    for (; i < lines.length; i++) chunks.append(lines[i]);
    chunks.flush();
    expect(given.map((g) => g.copy).join('')).toBe(lines.join(''));
  });

  it('never writes again into bytes it has handed out (the sink writes them later)', () => {
    const { given, sink } = recording();
    const chunks = new LineChunks(sink);
    for (let i = 0; i < 5_000; i++) {
      chunks.append(`line ${i} ${'é'.repeat(i % 50)}\n`);
      if (i % 7 === 0) chunks.flush();
    }
    chunks.flush();
    for (const g of given) expect(g.bytes.toString('utf8')).toBe(g.copy);
    expect(given.map((g) => g.copy).join('')).toBe(Array.from({ length: 5_000 }, (_, i) => `line ${i} ${'é'.repeat(i % 50)}\n`).join(''));
  });

  it('writes into the same bytes again once a sink says it is done with them, never into bytes a sink kept', () => {
    const lines = Array.from({ length: 5_000 }, (_, i) => `line ${i} ${'é'.repeat(i % 50)}\n`);
    // Done with every batch (a file written synchronously): one buffer for all of them.
    const done = recording(() => true);
    const reused = new LineChunks(done.sink);
    for (let i = 0; i < lines.length; i++) {
      reused.append(lines[i]);
      if (i % 7 === 0) reused.flush();
    }
    reused.flush();
    expect(done.given.map((g) => g.copy).join('')).toBe(lines.join(''));
    expect(new Set(done.given.map((g) => g.bytes.buffer)).size).toBe(1);
    // Kept at first (lines held until a stream exists), done later: what was kept is never written over.
    const mixed = recording((call) => call > 3);
    const chunks = new LineChunks(mixed.sink);
    for (let i = 0; i < lines.length; i++) {
      chunks.append(lines[i]);
      if (i % 7 === 0) chunks.flush();
    }
    chunks.flush();
    for (const g of mixed.given.slice(0, 3)) expect(g.bytes.toString('utf8')).toBe(g.copy);
    expect(mixed.given.map((g) => g.copy).join('')).toBe(lines.join(''));
  });

  it('writes a line too long for a chunk on its own, after what was pending', () => {
    const { given, sink } = recording();
    const chunks = new LineChunks(sink);
    chunks.append('first\n');
    const long = `${'€'.repeat(100_000)}\n`;
    chunks.append(long);
    chunks.append('last\n');
    chunks.flush();
    expect(given.map((g) => g.copy)).toEqual(['first\n', long, 'last\n']);
  });

  it('writes the UTF-8 of every line, ASCII or not, with no byte lost or reserved at the end of a chunk', () => {
    const { given, sink } = recording();
    const chunks = new LineChunks(sink);
    const ascii = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join('');
    // Two- to four-byte characters, in lines that end chunks (100 KiB of ASCII, then 60 KB lines of three-byte ones).
    const lines = ['é\n', `${ascii}\n`, '€ 𝄞\n', `${'a'.repeat(100 * 1024)}\n`];
    for (let i = 0; i < 12; i++) lines.push(`${'€'.repeat(20_000)}${i}\n`, `ÿ${i}\n`);
    for (const line of lines) chunks.append(line);
    chunks.flush();
    expect(Buffer.concat(given.map((g) => g.bytes)).equals(Buffer.from(lines.join(''), 'utf8'))).toBe(true);
    expect(given.length).toBeGreaterThan(1);
  });

  it('hands out nothing when nothing is pending', () => {
    const { given, sink } = recording();
    const chunks = new LineChunks(sink);
    chunks.flush();
    expect(given).toEqual([]);
  });
});
