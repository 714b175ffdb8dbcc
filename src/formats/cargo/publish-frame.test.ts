import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { LarderError } from '../../core/errors.js';
import { readPublishFrame, type PublishFrameLimits } from './publish-frame.js';
import { inspectCrateArchive } from './crate-archive.js';

const MiB = 1024 * 1024;
const limits: PublishFrameLimits = { maxMetadataSize: MiB, maxCrateSize: 10 * MiB };
const json = Buffer.from(JSON.stringify({ name: 'foo', vers: '1.0.0', deps: [] }));
const crateBytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function frame(meta: Buffer = json, crate: Buffer = crateBytes): Buffer {
  return Buffer.concat([u32(meta.length), meta, u32(crate.length), crate]);
}

/** A byte-mode body that hands out `size`-byte chunks on demand, like a socket under backpressure. */
function trickle(buf: Buffer, size = 3): Readable & { produced: number } {
  let offset = 0;
  const body = new Readable({
    read() {
      const chunk = buf.subarray(offset, offset + size);
      offset += chunk.length;
      body.produced = offset;
      this.push(chunk.length > 0 ? chunk : null);
    },
  }) as Readable & { produced: number };
  body.produced = 0;
  return body;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function rejection(promise: Promise<unknown>): Promise<LarderError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LarderError);
  return err as LarderError;
}

describe('readPublishFrame', () => {
  it('reads a well-formed frame delivered in small chunks', async () => {
    const body = frame();
    for (const size of [1, 3, 1000, body.length]) {
      const result = await readPublishFrame(trickle(body, size), limits, body.length);
      expect(result.metadataJson.equals(json)).toBe(true);
      expect(result.crateLength).toBe(crateBytes.length);
      expect((await collect(result.crate)).equals(crateBytes)).toBe(true);
      await result.done;
    }
  });

  it('works with object-mode streams and an empty crate', async () => {
    const body = frame(json, Buffer.alloc(0));
    const result = await readPublishFrame(Readable.from([body.subarray(0, 5), body.subarray(5)]), limits);
    expect(result.crateLength).toBe(0);
    expect((await collect(result.crate)).length).toBe(0);
    await result.done;
  });

  it('reports a body cut off in each length and metadata field', async () => {
    const body = frame();
    const cases: Array<[number, string]> = [
      [0, 'in the metadata length (0 of 4 bytes)'],
      [2, 'in the metadata length (2 of 4 bytes)'],
      [4 + 5, `in the metadata JSON (5 of ${json.length} bytes)`],
      [4 + json.length + 3, 'in the .crate length (3 of 4 bytes)'],
    ];
    for (const [cut, where] of cases) {
      const err = await rejection(readPublishFrame(trickle(body.subarray(0, cut), 2), limits));
      expect(err.code).toBe('BODY_MALFORMED');
      expect(err.message).toContain(`the publish body ended after ${cut} bytes, ${where}`);
    }
  });

  it('fails the crate stream and done when the body ends inside the crate', async () => {
    const body = frame();
    const cut = body.length - 10;
    const result = await readPublishFrame(trickle(body.subarray(0, cut), 100), limits);
    const err = await rejection(collect(result.crate));
    expect(err.code).toBe('BODY_MALFORMED');
    expect(err.message).toContain(`the publish body ended after ${cut} bytes but its length fields add up to ${body.length}`);
    expect(await rejection(result.done)).toBe(err);
  });

  it('rejects trailing bytes after the crate through done', async () => {
    const body = Buffer.concat([frame(), Buffer.from('junk')]);
    const result = await readPublishFrame(trickle(body, 64), limits);
    expect((await collect(result.crate)).equals(crateBytes)).toBe(true);
    const err = await rejection(result.done);
    expect(err.code).toBe('BODY_MALFORMED');
    expect(err.message).toContain('the publish body has bytes after the .crate');
  });

  it('rejects lengths beyond the limits in human units, before reading the data', async () => {
    let err = await rejection(readPublishFrame(trickle(u32(2 * MiB)), limits));
    expect(err.code).toBe('BODY_TOO_LARGE');
    expect(err.message).toContain('the publish metadata is 2 MiB');
    expect(err.message).toContain('limit of 1 MiB');

    err = await rejection(readPublishFrame(trickle(Buffer.concat([u32(json.length), json, u32(11 * MiB)])), limits));
    expect(err.code).toBe('BODY_TOO_LARGE');
    expect(err.message).toContain('the .crate is 11 MiB');
    expect(err.message).toContain('limit of 10 MiB');
  });

  it('rejects a Content-Length that disagrees with the length fields', async () => {
    const body = frame();
    const err = await rejection(readPublishFrame(trickle(body), limits, body.length + 1));
    expect(err.code).toBe('BODY_MALFORMED');
    expect(err.message).toContain(`the publish body is ${body.length + 1} bytes but its length fields add up to ${body.length}`);
  });

  it('reads the body only as fast as the crate is consumed', async () => {
    const big = Buffer.alloc(8 * MiB, 7);
    const body = trickle(frame(json, big), 16 * 1024);
    const result = await readPublishFrame(body, limits);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(body.produced).toBeLessThan(MiB);
    expect((await collect(result.crate)).length).toBe(big.length);
    await result.done;
  });

  it('drains the declared rest of the body when the consumer destroys the crate early', async () => {
    const body = trickle(frame(json, Buffer.alloc(4 * MiB, 1)), 16 * 1024);
    const ended = once(body, 'end');
    const result = await readPublishFrame(body, limits);
    result.crate.destroy();
    await ended;
    await result.done;
    expect(body.listenerCount('readable')).toBe(0);
    expect(body.listenerCount('end')).toBe(0);
  });

  it('settles without unhandled errors when an abandoned crate meets a broken body', async () => {
    const body = new Readable({ read() {} });
    body.push(frame().subarray(0, 100));
    const result = await readPublishFrame(body, limits);
    result.crate.destroy();
    body.destroy(new Error('aborted'));
    const err = await rejection(result.done);
    expect(err.code).toBe('BODY_MALFORMED');
    expect(err.message).toContain('(aborted)');
  });

  it('feeds inspectCrateArchive, which can reject the crate midway without hanging the body', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'foo-1.0.0/Cargo.toml' }, '[package]\nname = "foo"\nversion = "1.0.0"\n');
    pack.finalize();
    const crate = gzipSync(await collect(pack as unknown as Readable));
    const expected = { name: 'foo', vers: '1.0.0' };
    const archiveLimits = { maxUnpackedSize: MiB, maxEntries: 10 };

    let result = await readPublishFrame(trickle(frame(json, crate), 50), limits);
    const manifest = await inspectCrateArchive(result.crate, expected, archiveLimits);
    expect(manifest.name).toBe('foo');
    await result.done;

    const notGzip = Buffer.alloc(2 * MiB, 0x41);
    const body = trickle(frame(json, notGzip), 16 * 1024);
    result = await readPublishFrame(body, limits);
    const err = await rejection(inspectCrateArchive(result.crate, expected, archiveLimits));
    expect(err.code).toBe('ARCHIVE_INVALID');
    await result.done;
    expect(body.readableEnded).toBe(true);
  });
});
