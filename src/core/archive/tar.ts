import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { LarderError } from '../errors.js';
import { DecompressError, decompressor, magicCheck, magicOf, type Compression } from './decompress.js';
import { EntryGate, RATIO_FLOOR, asArchiveError, maxTarStream, type ArchiveStage, type GateOptions, type GateVisitor } from './gate.js';

/** What tar-stream yields per entry; at run time `type` and `linkname` may also be null. */
type TarStreamEntry = AsyncIterable<Buffer> & { header: tar.Header };
const NO_BODY: AsyncIterable<Buffer> = { async *[Symbol.asyncIterator]() {} };

/** A pipeline stage: a Transform or an async generator function. */
type Stage = Transform | ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>);

const gunzipBytes = promisify(gunzip);

/**
 * The most a tar.gz given as bytes is inflated to in one piece (off the event loop, one call instead of a chain of
 * stream stages: a small .crate costs ~0.5 ms less of the event loop). Below RATIO_FLOOR, so the ratio rule cannot
 * apply; anything larger (or any gzip failure) goes through the stream path, which decides and words the outcome.
 */
export const WHOLE_INFLATE_MAX = 2 << 20;

/**
 * A gzip that says it inflates to at most this much is inflated on the event loop (tens of microseconds): the thread
 * pool's round trip and the stream object around it cost the loop more than that. `maxOutputLength` holds a gzip that
 * lies about its size to the same bound (it then takes the stream path).
 */
const SYNC_INFLATE_MAX = 64 << 10;

/**
 * Streams a tar through the gate, uncompressed or compressed (`compression`: gzip inflated off the event
 * loop; xz, zstd, bzip2 see decompress.ts; magic bytes checked first; `gzip: true` = gzip): every entry is
 * checked, counted and sized before `visit` sees it, and the inflated stream is bounded by size and ratio,
 * so a bomb stops at the limit. Memory stays bounded whatever the archive's size.
 * Errors of the input stream itself (a dropped connection) are rethrown as they are. An archive already
 * in memory may be given as bytes: the same checks, the same outcome, less work for a small tar.gz.
 */
export async function gateTar(
  input: NodeJS.ReadableStream | Readable | Uint8Array,
  options: GateOptions & { gzip?: boolean; compression?: Compression },
  visit: GateVisitor,
): Promise<void> {
  if (!(input instanceof Uint8Array)) return gateTarStream(input, options, visit);
  // Only a gzip is inflated whole; every other compression goes through its stream stages.
  const gzip = options.compression === 'gzip' || (options.gzip === true && options.compression === undefined);
  if (!gzip) return gateTarStream(Readable.from([input]), options, visit);
  const tarBytes = await inflateWhole(input, options);
  if (tarBytes === null) return gateTarStream(Readable.from([input]), options, visit);
  return gateTarStream(Readable.from([tarBytes]), { ...options, gzip: false, compression: undefined }, visit);
}

/**
 * The tar inside a small gzip, or null when the stream path must decide: not gzip, corrupt, or more than
 * WHOLE_INFLATE_MAX (or the gate's own bound) inflated. Within those bounds neither the size nor the ratio rule can
 * trip, so the result is what the stream stages would have passed on.
 */
async function inflateWhole(gz: Uint8Array, options: GateOptions): Promise<Buffer | null> {
  if (gz.length < 18 || gz[0] !== 0x1f || gz[1] !== 0x8b) return null;
  const bound = Math.min(WHOLE_INFLATE_MAX, RATIO_FLOOR, maxTarStream(options.limits));
  // ISIZE (the last 4 bytes, the inflated size mod 2^32) only picks the path; maxOutputLength enforces the bound.
  const isize = Buffer.from(gz.buffer, gz.byteOffset, gz.byteLength).readUInt32LE(gz.length - 4);
  if (isize > bound) return null;
  try {
    if (isize <= SYNC_INFLATE_MAX) return gunzipSync(gz, { maxOutputLength: Math.min(bound, SYNC_INFLATE_MAX) });
    return await gunzipBytes(gz, { maxOutputLength: bound });
  } catch {
    return null;
  }
}

async function gateTarStream(
  input: NodeJS.ReadableStream | Readable,
  options: GateOptions & { gzip?: boolean; compression?: Compression },
  visit: GateVisitor,
): Promise<void> {
  const gate = new EntryGate(options);
  const m = options.messages;
  const extractor = tar.extract();
  const compression = options.compression ?? (options.gzip ? 'gzip' : undefined);
  // The stage that emits an error first is where it came from; later ones are pipeline teardown.
  let origin: 'source' | ArchiveStage | undefined;
  const onSourceError = () => (origin ??= 'source');
  input.on('error', onSourceError);
  extractor.on('error', () => (origin ??= 'tar'));
  const stages: Stage[] = [];
  if (compression) {
    const inflate = decompressor(compression);
    if (inflate instanceof Transform) inflate.on('error', () => (origin ??= compression));
    const sizes = { compressed: 0 };
    const wrong = () =>
      new LarderError('ARCHIVE_INVALID', compression === 'gzip' ? m.notGzip() : m.notCompressed(compression, magicOf(compression)));
    stages.push(magicCheck(compression, wrong), counter(sizes), inflate, inflateBudget(gate, sizes));
  }
  // Node's pipeline takes async generator functions as stages; its typings only list them one by one.
  const piping = (pipeline as (streams: unknown[]) => Promise<void>)([input, ...stages, extractor]);
  const reading = (async () => {
    for await (const entry of extractor as AsyncIterable<TarStreamEntry>) {
      const h = entry.header;
      gate.count();
      const admitted = gate.admit({
        name: h.name,
        type: h.type ?? '',
        size: h.size ?? 0,
        mode: h.mode ?? 0,
        linkname: h.linkname ?? undefined,
      });
      if (admitted) {
        gate.claim(admitted.size);
        await visit({ ...admitted, body: admitted.type === 'file' ? entry : NO_BODY });
      }
      for await (const _ of entry); // drain what the visitor left (and a directory's empty body)
    }
  })();
  const [piped, read] = await Promise.allSettled([piping, reading]);
  input.off('error', onSourceError);
  if (piped.status === 'fulfilled' && read.status === 'fulfilled') return;
  if (read.status === 'rejected') extractor.destroy();
  const errors = [read, piped].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const own = errors.find((e) => e instanceof LarderError);
  if (own) throw own;
  const decoding = errors.find((e) => e instanceof DecompressError);
  if (decoding) {
    // A window or dictionary past the limit is a resource refusal (413), like a bomb; anything else is damage.
    if (decoding.reason === 'window') throw new LarderError('ARCHIVE_TOO_LARGE', m.corrupt(decoding.stage, decoding.message));
    throw asArchiveError(decoding, m, decoding.stage);
  }
  const err = errors[0] as { code?: string } | undefined;
  if (origin === 'gzip' || err?.code?.startsWith('Z_')) throw asArchiveError(err, m, 'gzip');
  if (origin === 'tar') throw asArchiveError(err, m, 'tar');
  if (err?.code === 'ERR_STREAM_PREMATURE_CLOSE') throw asArchiveError(err, m, 'truncated');
  if (origin === 'source') throw err; // the source failed (e.g. the connection dropped): not the archive's fault
  throw asArchiveError(err, m, 'tar');
}

function counter(sizes: { compressed: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sizes.compressed += chunk.length;
      callback(null, chunk);
    },
  });
}

/** Stops inflation past the tar-stream bound for the limits, or past the ratio rule. */
function inflateBudget(gate: EntryGate, sizes: { compressed: number }): Transform {
  const { limits } = gate.options;
  const max = maxTarStream(limits);
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      const ratio = limits.maxRatio !== undefined && total > RATIO_FLOOR && total > limits.maxRatio * Math.max(sizes.compressed, 1);
      if (total > max || ratio) {
        try {
          gate.tooLarge();
        } catch (err) {
          return callback(err as Error);
        }
      }
      callback(null, chunk);
    },
  });
}
