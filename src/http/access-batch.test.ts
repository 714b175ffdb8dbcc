import { describe, expect, it } from 'vitest';
import { AccessBatch } from './access-batch.js';
import { accessLine, accessLineFormatter } from './access-line.js';
import { LineChunks } from './log-chunks.js';
import type { RequestId } from './request-id.js';

const BINDINGS = { pid: 7, hostname: 'h' };

function batchWithOutput() {
  let out = '';
  const chunks = new LineChunks((bytes) => {
    out += bytes.toString('utf8');
    return true;
  });
  const batch = new AccessBatch(accessLineFormatter(BINDINGS), chunks);
  return { batch, chunks, written: () => out };
}

describe('AccessBatch', () => {
  it('formats the lines it holds, in order, once a batch is full or when drained', () => {
    const { batch, chunks, written } = batchWithOutput();
    const before = Date.now();
    for (let i = 0; i < 70; i++) batch.add(`id-${i}` as RequestId, i % 2 ? 'GET' : 'HEAD', `/r/${i}`, 200 + (i % 2) * 104, i / 3, 'r');
    // 64 formatted into the chunk (not yet written: under 128 KiB), 6 held as fields.
    expect(batch.pending).toBe(6);
    expect(chunks.pendingBytes).toBeGreaterThan(0);
    batch.drain();
    chunks.flush();
    const lines = written().split('\n').slice(0, -1);
    expect(lines).toHaveLength(70);
    lines.forEach((line, i) => {
      const { time } = JSON.parse(line) as { time: number };
      expect(time).toBeGreaterThanOrEqual(before);
      expect(`${line}\n`).toBe(accessLine(BINDINGS, time, `id-${i}`, i % 2 ? 'GET' : 'HEAD', `/r/${i}`, 200 + (i % 2) * 104, i / 3, 'r'));
    });
  });

  it('writes batches with odd characters as UTF-8, and plain ones alike', () => {
    const { batch, chunks, written } = batchWithOutput();
    // Ids are plain by their type (requestIdOf); URLs and repos may hold anything.
    const ids = ['plain', 'with space', 'a-b_c.d', '~!#$%&', "'()*+,/:;<=>?@[]^`{|}"] as RequestId[];
    const urls = ['/a', '/b"\\', '/\u00ff', '/x\u0001', '/\u2028'];
    for (let i = 0; i < 200; i++) batch.add(ids[i % 5], 'GET', urls[(i * 3) % 5], 200, i, i % 2 ? 'r' : 'ré');
    batch.drain();
    chunks.flush();
    const lines = written().split('\n').slice(0, -1);
    expect(lines).toHaveLength(200);
    lines.forEach((line, i) => {
      const { time } = JSON.parse(line) as { time: number };
      expect(`${line}\n`).toBe(accessLine(BINDINGS, time, ids[i % 5], 'GET', urls[(i * 3) % 5], 200, i, i % 2 ? 'r' : 'ré'));
    });
  });

  it('has nothing to write when nothing is held', () => {
    const { batch, chunks, written } = batchWithOutput();
    batch.drain();
    chunks.flush();
    expect(written()).toBe('');
  });
});
